// Command console serves QuantumFlow's web console: the workflow list, a
// workflow's DAG one level at a time with live updates, a node's panel,
// the timeline with its critical path, cancel and retry, River UI under
// /river/ and the JSON API behind the pages. docs/CONSOLE.md is the guide.
//
//	console [--addr 127.0.0.1:8080] [--database-url URL]
//
// It listens on loopback by default. Credentials come from the environment:
// QF_CONSOLE_TOKEN (operator) and QF_CONSOLE_VIEWER_TOKEN (viewer), or
// QF_CONSOLE_BASIC_AUTH / QF_CONSOLE_VIEWER_BASIC_AUTH as user:password.
// An address beyond loopback without an operator credential is refused.
//
// Exit codes (internal/cliutil): 0 stopped on SIGINT or SIGTERM; 1 failed
// (database unreachable, schema not migrated, listen failed); 2 bad flags,
// bad credentials, or a non-loopback address without an operator
// credential.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/internal/console"
	"github.com/quantumflow/quantumflow/migrations"
)

func main() {
	ctx, stop := cliutil.InterruptContext(nil)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "console: %s\n", cliutil.Redact(err.Error()))
	}
	os.Exit(cliutil.CodeOf(err))
}

// options are the command's flags.
type options struct {
	addr        string
	databaseURL string
	logFormat   string
	logLevel    string
	noRiverUI   bool
	poll        time.Duration
	maxConns    int32
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := pflag.NewFlagSet("console", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on; beyond loopback it needs an operator credential")
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	fs.StringVar(&o.logFormat, "log-format", cliutil.LogAuto, "log format: auto, text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&o.noRiverUI, "no-river-ui", false, "do not mount River UI under /river/")
	fs.DurationVar(&o.poll, "poll-interval", time.Second, "how often a workflow page asks for changes")
	fs.Int32Var(&o.maxConns, "max-conns", 8, "size of the database pool (River UI shares it)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, cliutil.WithCode(cliutil.ExitUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, cliutil.WithCode(cliutil.ExitUsage, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if o.maxConns < 2 {
		return nil, cliutil.WithCode(cliutil.ExitUsage, fmt.Errorf("--max-conns must be at least 2 (got %d)", o.maxConns))
	}
	if o.poll < 100*time.Millisecond {
		return nil, cliutil.WithCode(cliutil.ExitUsage, fmt.Errorf("--poll-interval must be at least 100ms (got %s)", o.poll))
	}
	return o, nil
}

// run serves until ctx is done. ready, when set, receives the address
// listened on (tests listen on port 0).
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready chan<- string) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	creds, err := console.CredentialsFromEnv(getenv)
	if err != nil {
		return cliutil.WithCode(cliutil.ExitUsage, err)
	}
	// Checked before anything else: a console that would expose every
	// workflow to the network without a credential never starts.
	if err := console.CheckBind(o.addr, creds); err != nil {
		return cliutil.WithCode(cliutil.ExitUsage, err)
	}
	level, err := cliutil.ParseLevel(o.logLevel)
	if err != nil {
		return err
	}
	logger, err := cliutil.NewLogger(stderr, o.logFormat, level)
	if err != nil {
		return err
	}
	if o.databaseURL == "" {
		o.databaseURL = getenv("DATABASE_URL")
	}
	u, err := cliutil.DatabaseURL(o.databaseURL)
	if err != nil {
		return err
	}
	pool, err := cliutil.OpenPool(ctx, u, cliutil.PoolOptions{MaxConns: o.maxConns, ApplicationName: "console"})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := checkSchema(ctx, pool, cliutil.Describe(u)); err != nil {
		return err
	}
	fc, err := flow.NewClient(pool, &flow.Config{Logger: logger})
	if err != nil {
		return err
	}
	cfg := &console.Config{Pool: pool, Flow: fc, Credentials: creds, Logger: logger, PollInterval: o.poll}
	if !o.noRiverUI {
		if cfg.RiverUI, err = console.NewRiverUI(ctx, pool, logger); err != nil {
			return err
		}
	}
	srv, err := console.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("console listening", "addr", "http://"+ln.Addr().String(), "database", cliutil.Describe(u),
		"operator", creds.HasOperator(), "viewer", creds.ViewerToken != "" || creds.ViewerUser != "", "river_ui", !o.noRiverUI)
	if !creds.Any() {
		logger.Warn("no credential set: anyone on this host may read, and nobody may act; set QF_CONSOLE_TOKEN for operators")
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info("console stopped")
	return nil
}

// checkSchema refuses a database whose schema is not migrated (the console
// never migrates: `worker migrate` does), in one read-only transaction.
func checkSchema(ctx context.Context, pool *pgxpool.Pool, db string) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("check schema of %s: %w", db, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	_, err = migrations.Check(ctx, tx, db)
	return err
}
