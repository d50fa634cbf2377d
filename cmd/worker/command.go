package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/migrations"
)

// proc is what a worker invocation gets from its process: arguments,
// environment, output streams and stop signals. Tests build their own.
type proc struct {
	args   []string
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	// signals delivers SIGTERM and SIGINT. The first starts a graceful
	// shutdown, the second cancels running jobs at once, the third stops
	// waiting for them.
	signals <-chan os.Signal
	// newID makes the default --id.
	newID func() string
}

// actions are what the command line runs once parsed; tests replace them to
// check parsing alone.
type actions struct {
	run     func(ctx context.Context, p *proc, cfg *config, logger *slog.Logger, level slog.Level, format string) error
	migrate func(ctx context.Context, p *proc, databaseURL string, jsonOut bool, logger *slog.Logger) error
}

// loggedError is an error that was already logged; main does not print it
// again.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// execute runs the command line and returns the process exit code. ctx
// being cancelled acts like SIGTERM.
func execute(ctx context.Context, p *proc, a actions) int {
	cmd := newRootCommand(p, a)
	cmd.SetArgs(p.args)
	err := cmd.ExecuteContext(ctx)
	var logged loggedError
	if err != nil && !errors.As(err, &logged) {
		fmt.Fprintf(p.stderr, "worker: %s\n", cliutil.Redact(err.Error()))
	}
	return cliutil.CodeOf(err)
}

const longHelp = `worker is one member of the QuantumFlow worker fleet: a River client that
works the built-in job kinds (noop, sleep, fail, echo) on the queues it is
given, completes workflow nodes and releases their dependents, keeps a
heartbeat so the fleet hands back its jobs within seconds if it dies, and
serves Prometheus metrics and health checks over HTTP.

It does not change the database schema unless started with --migrate; run
'worker migrate' once per deploy instead.

Every flag can also be set by an environment variable, named in brackets
after it: QF_ and the flag's name in upper snake case (QF_QUEUES,
QF_METRICS_ADDR, ...), except --database-url, which is DATABASE_URL. A flag
on the command line wins over its variable.

On SIGTERM or SIGINT the worker stops fetching, becomes not ready, and lets
running jobs finish for up to --shutdown-grace; then their contexts are
cancelled and River hands them back to the queue at once (a job that
returns its context's error does not lose an attempt). A second signal
cancels them at once, a third stops waiting for them.

Exit codes: 0 stopped cleanly; 1 failed (database unreachable, schema
missing, listen failed); 2 bad flags or arguments.`

// newRootCommand builds the worker command line.
func newRootCommand(p *proc, a actions) *cobra.Command {
	o := &options{}
	root := &cobra.Command{
		Use:           "worker",
		Short:         "Run one member of the QuantumFlow worker fleet",
		Long:          longHelp,
		Example:       "  DATABASE_URL=postgres://app@db:5432/app worker --queues default=100,bulk=10\n  worker migrate --database-url postgres://app@db:5432/app",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       cliutil.ReadBuild().String(),
		Args:          noArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags(), p.getenv, o)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, level, err := newLogger(p, o)
			if err != nil {
				return err
			}
			cfg, err := o.config(p.newID)
			if err != nil {
				return err
			}
			if cfg.databaseURL, err = databaseURL(o); err != nil {
				return err
			}
			return a.run(cmd.Context(), p, cfg, logger, level, o.logFormat)
		},
	}
	addCommonFlags(root.PersistentFlags(), o)
	addRunFlags(root.Flags(), o)

	var output string
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the database schema, then exit",
		Long: `migrate applies River's migrations and QuantumFlow's own to the schema that the
database URL selects (its search_path) and prints what it applied. It is
idempotent and safe to run from several processes at once. -o json prints
{"river": [...], "quantumflow": [...]}, the versions this run applied.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageErr("-o: unknown output %q (want text or json)", output)
			}
			logger, _, err := newLogger(p, o)
			if err != nil {
				return err
			}
			u, err := databaseURL(o)
			if err != nil {
				return err
			}
			return a.migrate(cmd.Context(), p, u, output == "json", logger)
		},
	}
	migrate.Flags().StringVarP(&output, "output", "o", "text", "output: text or json")
	root.AddCommand(migrate)

	// Before cobra merges the persistent flags into each command's set, so
	// that each flag is annotated once.
	for _, fs := range []*pflag.FlagSet{root.PersistentFlags(), root.Flags(), migrate.Flags()} {
		annotateEnv(fs)
	}
	for _, c := range []*cobra.Command{root, migrate} {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
			return cliutil.WithCode(cliutil.ExitUsage, err)
		})
	}
	root.SetVersionTemplate(cliutil.VersionTemplate)
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(p.stdout)
	root.SetErr(p.stderr)
	return root
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("unknown command or argument %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// newLogger builds the logger from --log-format and --log-level.
func newLogger(p *proc, o *options) (*slog.Logger, slog.Level, error) {
	level, err := o.logLevelValue()
	if err != nil {
		return nil, 0, err
	}
	if err := o.checkLogFormat(); err != nil {
		return nil, 0, err
	}
	logger, err := cliutil.NewLogger(p.stderr, o.logFormat, level)
	if err != nil {
		return nil, 0, o.flagErr("log-format", "%v", err)
	}
	return logger, level, nil
}

// databaseURL resolves --database-url / DATABASE_URL.
func databaseURL(o *options) (string, error) {
	return cliutil.DatabaseURL(o.databaseURL)
}

// runMigrate is the migrate subcommand.
func runMigrate(ctx context.Context, p *proc, databaseURL string, jsonOut bool, logger *slog.Logger) error {
	// Migrate holds one connection for its lock while River's migrator uses
	// another.
	pool, err := cliutil.OpenPool(ctx, databaseURL, cliutil.PoolOptions{MaxConns: 4, ApplicationName: "quantumflow-worker-migrate"})
	if err != nil {
		return err
	}
	defer pool.Close()
	logger.Info("migrating", slog.String("database", cliutil.Describe(databaseURL)))
	res, err := migrations.Migrate(ctx, pool)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", cliutil.Describe(databaseURL), err)
	}
	if jsonOut {
		return json.NewEncoder(p.stdout).Encode(struct {
			River       []int `json:"river"`
			QuantumFlow []int `json:"quantumflow"`
		}{append([]int{}, res.River...), append([]int{}, res.QuantumFlow...)})
	}
	if len(res.River) == 0 && len(res.QuantumFlow) == 0 {
		fmt.Fprintln(p.stdout, "schema is up to date; nothing applied")
		return nil
	}
	fmt.Fprintf(p.stdout, "applied River migrations %v and QuantumFlow migrations %v\n", res.River, res.QuantumFlow)
	return nil
}
