package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// unreachable is a database nobody listens on, with a password that must
// never be printed. Commands that get past their usage checks fail on it
// with exit code 1 instead of touching a real database.
const unreachable = "postgres://qf:s3cret-pw@127.0.0.1:1/qf?sslmode=disable&connect_timeout=2"

const someID = "7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f"

func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	db := "--database-url=" + unreachable
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", []string{}, cliutil.ExitUsage, "missing command"},
		{"unknown command", []string{"bogus"}, cliutil.ExitUsage, `unknown command "bogus"`},
		{"misspelt command suggests", []string{"stauts", someID}, cliutil.ExitUsage, `did you mean "status"?`},
		{"unknown flag", []string{db, "submit", "--nope", "f.yaml"}, cliutil.ExitUsage, "unknown flag: --nope"},
		{"missing file arg", []string{db, "submit"}, cliutil.ExitUsage, "missing FILE"},
		{"extra arg", []string{db, "submit", "a.yaml", "b.yaml"}, cliutil.ExitUsage, `unexpected argument "b.yaml"`},
		{"bad output", []string{db, "submit", "-o", "yaml", "f.yaml"}, cliutil.ExitUsage, `invalid --output "yaml"`},
		{"bad poll interval", []string{db, "submit", "--poll-interval", "0s", "f.yaml"}, cliutil.ExitUsage, "--poll-interval must be positive"},
		{"missing spec file", []string{db, "submit", "/nonexistent/spec.yaml"}, cliutil.ExitUsage, "spec file /nonexistent/spec.yaml: no such file or directory"},
		{"spec is a directory", []string{db, "submit", "."}, cliutil.ExitUsage, "spec file . is a directory"},
		{"spec does not parse", []string{db, "submit", "../../examples/bad/bad-syntax.yaml"}, cliutil.ExitInvalidSpec, "bad-syntax.yaml: line 3: invalid YAML"},
		{"missing id", []string{db, "status"}, cliutil.ExitUsage, "missing ID"},
		{"invalid id", []string{db, "status", "not-a-uuid"}, cliutil.ExitUsage, `invalid workflow id "not-a-uuid"`},
		{"invalid id for cancel", []string{db, "cancel", "42"}, cliutil.ExitUsage, `invalid workflow id "42"`},
		{"bad max-nodes", []string{db, "status", "--max-nodes", "-1", someID}, cliutil.ExitUsage, "--max-nodes must not be negative"},
		{"bad retry mode", []string{db, "retry", "--mode", "some", someID}, cliutil.ExitUsage, `invalid --mode "some": want failed-only, failed-and-downstream, all`},
		{"bad list status", []string{db, "list", "--status", "done"}, cliutil.ExitUsage, `invalid --status "done"`},
		{"bad list limit", []string{db, "list", "--limit", "0"}, cliutil.ExitUsage, "--limit must be at least 1"},
		{"list takes no args", []string{db, "list", "x"}, cliutil.ExitUsage, `unexpected argument "x"`},
		{"bad log format", []string{db, "--log-format", "xml", "list"}, cliutil.ExitUsage, `unknown log format "xml"`},
		{"bad log level", []string{db, "--log-level", "loud", "list"}, cliutil.ExitUsage, `unknown log level "loud"`},
		{"negative timeout", []string{db, "--timeout", "-1s", "list"}, cliutil.ExitUsage, "--timeout must not be negative"},
		{"bad timeout", []string{db, "--timeout", "soon", "list"}, cliutil.ExitUsage, `invalid argument "soon" for "--timeout"`},
		{"database URL does not parse", []string{"--database-url", "postgres://qf:pw@[::1", "list"}, cliutil.ExitUsage, "does not parse"},
		{"database unreachable", []string{db, "list"}, cliutil.ExitError, "connect to qf@127.0.0.1:1/qf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, _, err := runCLI(t, tt.args...)
			require.Error(t, err)
			require.Equal(t, tt.code, cliutil.CodeOf(err), "error: %v", err)
			require.Contains(t, err.Error(), tt.msg)
			require.NotContains(t, cliutil.Redact(err.Error()), "s3cret-pw")
			require.Empty(t, stdout, "nothing on stdout when a command fails before doing anything")
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	a := &app{}
	root := a.rootCmd()
	for _, cmd := range root.Commands() {
		if cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		t.Run(cmd.Name(), func(t *testing.T) {
			t.Parallel()
			require.NotEmpty(t, cmd.Short)
			require.NotEmpty(t, cmd.Long)
			require.NotEmpty(t, cmd.Example, "every command shows examples in --help")

			stdout, _, err := runCLI(t, cmd.Name(), "--help")
			require.NoError(t, err)
			require.Contains(t, stdout, "Usage:\n  enqueue "+cmd.Name())
			require.Contains(t, stdout, "Examples:")
			require.Contains(t, stdout, "--database-url", "global flags are listed")
		})
	}
}

// TestVersionFlag: --version prints the module version and commit that the
// build recorded (debug.ReadBuildInfo) without touching a database.
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	stdout, _, err := runCLI(t, "--version", "--database-url", "postgres://qf@127.0.0.1:1/qf")
	require.NoError(t, err)
	require.Equal(t, "enqueue "+cliutil.ReadBuild().String()+"\n", stdout)
	require.Regexp(t, `^enqueue \S+ \(commit (unknown|[0-9a-f]{40})(, modified)?\)\n$`, stdout)
}
