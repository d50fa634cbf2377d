package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// errInterrupted is the cause of the command's context after SIGINT or
// SIGTERM; errTimeout after --timeout.
var (
	errInterrupted = cliutil.ErrInterrupted
	errTimeout     = errors.New("timed out")
)

// app is one invocation of the command: its streams, global flags and the
// resources it opened.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	// Global flags.
	databaseURL string
	logFormat   string
	logLevel    string
	timeout     time.Duration

	logger *slog.Logger
	pool   *pgxpool.Pool
	cancel context.CancelFunc

	// stderrTTY reports whether stderr is a terminal (progress bar or plain
	// lines). Tests replace it.
	stderrTTY func() bool
	// now is the clock, for durations in text output. Tests replace it.
	now func() time.Time
}

// run executes the command line args and returns the error to report, which
// carries the exit code (cliutil.CodeOf).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{
		stdin:     stdin,
		stdout:    stdout,
		stderr:    stderr,
		stderrTTY: func() bool { return cliutil.IsTerminal(stderr) },
		now:       time.Now,
	}
	ctx, stop := cliutil.InterruptContext(nil)
	defer stop()
	defer a.close()

	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

func (a *app) close() {
	if a.pool != nil {
		a.pool.Close()
	}
	if a.cancel != nil {
		a.cancel()
	}
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "enqueue",
		Short: "Submit and manage QuantumFlow workflows",
		Long: `enqueue is the client of QuantumFlow: it submits workflow specs (hierarchical
task DAGs), follows them to the end, shows their status, and lists, cancels
and retries them. Workers (the worker command) run the nodes.

The database comes from --database-url or DATABASE_URL (a libpq URL such as
postgres://user@host:5432/db?sslmode=disable).

Exit codes: 0 done; 1 failed (database unreachable, workflow not found,
operation refused, interrupted); 2 bad flags or arguments; 3 spec rejected,
nothing written; 4 a followed workflow ended failed or cancelled.`,
		Example: `  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
  enqueue migrate
  ID=$(enqueue submit examples/quickstart.yaml)
  enqueue status "$ID"
  enqueue submit --wait examples/quickstart.yaml`,
		SilenceErrors:              true,
		DisableFlagsInUseLine:      true,
		SuggestionsMinimumDistance: 2,
		SilenceUsage:               true,
		Version:                    cliutil.ReadBuild().String(),
		Args:                       cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				msg := fmt.Sprintf("unknown command %q", args[0])
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += fmt.Sprintf(" (did you mean %q?)", s[0])
				}
				return usageErr(cmd, "%s", msg)
			}
			cmd.SetOut(a.stderr)
			_ = cmd.Help()
			return cliutil.WithCode(cliutil.ExitUsage, errors.New("missing command"))
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.setup(cmd) },
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.databaseURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	pf.StringVar(&a.logFormat, "log-format", cliutil.LogAuto, "log format: auto, text or json (logs go to stderr)")
	pf.StringVar(&a.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	pf.DurationVar(&a.timeout, "timeout", 0, "give up after this long, e.g. 30s or 10m (0: no limit)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErr(cmd, "%s", err)
	})
	root.SetVersionTemplate(cliutil.VersionTemplate)
	root.AddCommand(
		a.submitCmd(),
		a.statusCmd(),
		a.listCmd(),
		a.waitCmd(),
		a.cancelCmd(),
		a.retryCmd(),
		a.migrateCmd(),
		a.pauseCmd(),
		a.resumeCmd(),
		a.whyCmd(),
		a.searchCmd(),
		a.codebasesCmd(),
		a.historyCmd(),
		a.watchCmd(),
		a.ingestCmd(),
	)
	return root
}

// setup checks the global flags and builds the logger and the deadline.
func (a *app) setup(cmd *cobra.Command) error {
	level, err := cliutil.ParseLevel(a.logLevel)
	if err != nil {
		return err
	}
	if a.logger, err = cliutil.NewLogger(a.stderr, a.logFormat, level); err != nil {
		return err
	}
	if a.timeout < 0 {
		return usageErr(cmd, "--timeout must not be negative (got %s)", a.timeout)
	}
	if a.timeout > 0 {
		ctx, cancel := context.WithTimeoutCause(cmd.Context(), a.timeout, errTimeout)
		a.cancel = cancel
		cmd.SetContext(ctx)
	}
	return nil
}

// connectRetryFor bounds how long a command waits while the server refuses
// connections (too many clients, starting up, shutting down) before it
// fails with the cause and the fix; --timeout, when shorter, wins.
const connectRetryFor = 30 * time.Second

// client connects to the database and returns a flow client on it.
func (a *app) client(ctx context.Context) (*flow.Client, error) {
	u, err := cliutil.DatabaseURL(a.databaseURL)
	if err != nil {
		return nil, err
	}
	a.logger.Debug("connecting", "database", cliutil.Describe(u))
	warned := false
	pool, err := cliutil.OpenPoolRetry(ctx, u, cliutil.PoolOptions{MaxConns: 4, ApplicationName: "enqueue"}, cliutil.RetryOptions{
		For: connectRetryFor,
		Waiting: func(err error, code string, wait time.Duration) {
			level := slog.LevelDebug
			if !warned {
				level, warned = slog.LevelWarn, true
			}
			a.logger.Log(ctx, level, "database refused the connection; retrying", "sqlstate", code, "retry_in", wait.String(),
				"for_at_most", connectRetryFor.String(), "hint", cliutil.RefusedHint(code))
		},
	})
	if err != nil {
		return nil, a.interrupted(ctx, err)
	}
	a.pool = pool
	return flow.NewClient(pool, &flow.Config{Logger: a.logger})
}

// interrupted replaces err with a clearer one when the command's context was
// interrupted or timed out.
func (a *app) interrupted(ctx context.Context, err error) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errInterrupted):
		return fmt.Errorf("interrupted: %w", err)
	case errors.Is(cause, errTimeout):
		return fmt.Errorf("gave up after --timeout %s: %w", a.timeout, err)
	}
	return err
}

// usageErr is a bad flag or argument: exit code 2, with a hint to --help.
func usageErr(cmd *cobra.Command, format string, args ...any) error {
	return cliutil.WithCode(cliutil.ExitUsage,
		fmt.Errorf(format+"\nRun '%s --help' for usage.", append(args, cmd.CommandPath())...))
}

// argsNamed checks that the command got exactly the named positional args.
func argsNamed(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usageErr(cmd, "missing %s", strings.Join(names[len(args):], ", "))
		case len(args) > len(names):
			return usageErr(cmd, "unexpected argument %q (%s takes %s)", args[len(names)], cmd.Name(), strings.Join(names, ", "))
		}
		return nil
	}
}

// idArg checks the one positional argument, a workflow id. An id that is not
// a UUID is a usage error (exit 2), caught before connecting.
func idArg(cmd *cobra.Command, args []string) error {
	if err := argsNamed("ID")(cmd, args); err != nil {
		return err
	}
	if _, err := uuid.Parse(args[0]); err != nil {
		return cliutil.WithCode(cliutil.ExitUsage,
			fmt.Errorf("%w %q: want a UUID such as 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f", flow.ErrInvalidID, args[0]))
	}
	return nil
}

// Output formats of -o.
const (
	outText = "text"
	outJSON = "json"
)

func addOutputFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "output", "o", outText, "output format: text or json")
}

func checkOutput(cmd *cobra.Command, format string) error {
	if format != outText && format != outJSON {
		return usageErr(cmd, "invalid --output %q: want text or json", format)
	}
	return nil
}

// printJSON writes v to stdout as one indented JSON document.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runtimeErr maps the runtime's sentinel errors to exit codes: a refused
// operation or a missing workflow is 1, a malformed id is 2.
func (a *app) runtimeErr(ctx context.Context, err error) error {
	if errors.Is(err, flow.ErrInvalidID) {
		return cliutil.WithCode(cliutil.ExitUsage, err)
	}
	return a.interrupted(ctx, err)
}
