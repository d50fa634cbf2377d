// Command worker is one member of the QuantumFlow worker fleet: a River
// client working the built-in job kinds, with Prometheus metrics and health
// checks over HTTP, fast dead-worker detection through a heartbeat, and a
// graceful shutdown on SIGTERM. 'worker migrate' applies the database
// migrations. docs/OPERATIONS.md describes running it.
//
// Exit codes (internal/cliutil): 0 stopped cleanly; 1 failed (database
// unreachable, schema missing, listen failed, River failed to start); 2 bad
// flags or arguments.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 3)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(execute(context.Background(), &proc{
		args:    os.Args[1:],
		getenv:  os.Getenv,
		stdout:  os.Stdout,
		stderr:  os.Stderr,
		signals: signals,
		newID:   defaultID,
	}, actions{run: runWorker, migrate: runMigrate}))
}
