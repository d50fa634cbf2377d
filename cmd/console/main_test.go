package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// TestMain lets TestRefusesNonLoopbackWithoutCredential run this test
// binary as the command itself.
func TestMain(m *testing.M) {
	if os.Getenv("QF_CONSOLE_BE_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestRefusesNonLoopbackWithoutCredential: the command, run as a process,
// exits 2 before touching the database and says why, for an address beyond
// loopback without an operator credential (a viewer token is not enough);
// a bad flag or credential is also a usage error.
func TestRefusesNonLoopbackWithoutCredential(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"every interface", []string{"--addr", "0.0.0.0:0"}, nil, "refusing to listen beyond loopback without an operator credential"},
		{"empty host", []string{"--addr", ":0"}, nil, "QF_CONSOLE_TOKEN"},
		{"viewer only", []string{"--addr", "0.0.0.0:0"}, []string{"QF_CONSOLE_VIEWER_TOKEN=v"}, "operator credential"},
		{"bad basic", nil, []string{"QF_CONSOLE_BASIC_AUTH=nocolon"}, "user:password"},
		{"bad flag", []string{"--poll-interval", "1ms"}, nil, "--poll-interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], tt.args...)
			// The database is unreachable on purpose: the refusal comes first.
			cmd.Env = append([]string{"QF_CONSOLE_BE_MAIN=1", "DATABASE_URL=postgres://nobody@127.0.0.1:1/none",
				"PATH=" + os.Getenv("PATH")}, tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, stderr.String())
			require.Equal(t, cliutil.ExitUsage, exit.ExitCode(), stderr.String())
			require.Contains(t, stderr.String(), tt.want)
			require.NotContains(t, stderr.String(), "nocolon", "a secret is never echoed")
		})
	}
}
