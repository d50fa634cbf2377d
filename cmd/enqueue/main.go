// Command enqueue is QuantumFlow's client: it submits workflow specs, follows
// them to the end, shows their status, lists, cancels and retries them, and
// migrates the database. Every command reads the database from --database-url
// or DATABASE_URL.
//
// Exit codes (internal/cliutil): 0 done; 1 failed (database unreachable,
// workflow not found, operation refused, interrupted); 2 bad flags or
// arguments; 3 spec rejected; 4 a followed workflow ended failed or
// cancelled. docs/CLI.md is the reference.
package main

import (
	"fmt"
	"os"

	"github.com/quantumflow/quantumflow/internal/cliutil"
)

func main() {
	err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "enqueue: %s\n", cliutil.Redact(err.Error()))
	}
	os.Exit(cliutil.CodeOf(err))
}
