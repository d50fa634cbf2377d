// Package cliutil holds what the enqueue and worker commands share: where the
// database URL comes from, how it is shown without its password, how the
// pool is opened, how logs are written, and the exit codes scripts rely on.
package cliutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lmittmann/tint"
	"golang.org/x/term"
)

// Exit codes shared by the commands. They are part of the CLI contract
// (docs/SPEC.md, "Exit codes"): scripts branch on them.
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitError: the command failed: the database is unreachable, the
	// workflow does not exist, the operation was refused (cancelling a
	// finished workflow, retrying an active one).
	ExitError = 1
	// ExitUsage: bad flags or arguments; nothing was done.
	ExitUsage = 2
	// ExitInvalidSpec: the spec was rejected (parse or validation error,
	// key conflict); nothing was written.
	ExitInvalidSpec = 3
	// ExitWorkflowFailed: submit --wait followed a workflow that ended
	// failed or cancelled.
	ExitWorkflowFailed = 4
)

// ExitCodeError carries an exit code with the error that caused it. Commands
// return it from RunE; main prints Err and exits with Code.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// WithCode wraps err so that the command exits with code. A nil err stays nil.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitCodeError{Code: code, Err: err}
}

// CodeOf returns the exit code for err: ExitOK for nil, the code of an
// ExitCodeError, else ExitError.
func CodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		return ec.Code
	}
	return ExitError
}

// ErrNoDatabase is returned by DatabaseURL when neither the flag nor the
// environment names a database.
var ErrNoDatabase = errors.New("no database given: set DATABASE_URL or pass --database-url")

// DatabaseURL returns flagValue when set, else $DATABASE_URL. It checks that
// the URL parses (libpq URL or key=value form) without connecting.
func DatabaseURL(flagValue string) (string, error) {
	u := flagValue
	if u == "" {
		u = os.Getenv("DATABASE_URL")
	}
	if u == "" {
		return "", WithCode(ExitUsage, ErrNoDatabase)
	}
	if _, err := pgxpool.ParseConfig(u); err != nil {
		// pgx's parse errors can quote the input; never echo the password.
		return "", WithCode(ExitUsage, fmt.Errorf("database URL %s does not parse: %s", Redact(u), Redact(err.Error())))
	}
	return u, nil
}

var (
	urlPassword = regexp.MustCompile(`(://[^:/@?\s]*):[^@\s]*@`)
	kvPassword  = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|[^&\s]*)`)
)

// Redact returns s with every password in a database URL (user:PASS@ or
// password=PASS) replaced by ****. It is safe to apply to any log text.
func Redact(s string) string {
	s = urlPassword.ReplaceAllString(s, "$1:****@")
	return kvPassword.ReplaceAllString(s, "${1}****")
}

// PoolOptions tunes OpenPool.
type PoolOptions struct {
	// MaxConns caps the pool; 0 keeps pgx's default (max(4, cores)).
	MaxConns int32
	// ApplicationName is shown in pg_stat_activity.
	ApplicationName string

	// Connection budget (docs/OPERATIONS.md, "Sizing the pool"). MinConns
	// is the least number of connections kept open (0: pgx's default, 0).
	// IdleTimeout closes a connection idle for that long (0: pgx's
	// default, 30 min), checked every second.
	MinConns    int32
	IdleTimeout time.Duration
	// Refused, when set, is called (at most once every refusedLogEvery) when
	// the server refuses one of the pool's new connections: too many
	// clients, starting up, shutting down. See RefusedHint.
	Refused func(err error)
}

// OpenPool connects to databaseURL and checks the connection with a ping
// bounded by 10 s. River's fetch query needs plan_cache_mode =
// force_custom_plan: a cached generic plan collapses throughput once
// statistics say river_job is empty (docs/BENCHMARKS.md, "Reference
// measurements"). It is sent as a startup parameter only in pgx's default
// query exec mode, the one that caches prepared statements; in the others
// (default_query_exec_mode=exec in the URL, as behind PgBouncer) every
// statement is planned with its values anyway. Errors name the server
// without its password.
func OpenPool(ctx context.Context, databaseURL string, opts PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database URL %s does not parse: %s", Redact(databaseURL), Redact(err.Error()))
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	applyBudget(cfg, opts)
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if usesNamedStatements(cfg.ConnConfig.DefaultQueryExecMode) {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	if opts.ApplicationName != "" {
		if _, set := cfg.ConnConfig.RuntimeParams["application_name"]; !set {
			cfg.ConnConfig.RuntimeParams["application_name"] = opts.ApplicationName
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, connectErr(databaseURL, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, connectErr(databaseURL, err)
	}
	return pool, nil
}

// Describe names the server of databaseURL for messages and logs:
// user@host:port/database, never the password.
func Describe(databaseURL string) string {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return Redact(databaseURL)
	}
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s/%s", c.User, hostPort(c.Host, c.Port), c.Database)
}

func hostPort(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return fmt.Sprintf("%s:%d", host, port)
	}
	return (&url.URL{Host: fmt.Sprintf("%s:%d", host, port)}).Host
}

// Log formats accepted by NewLogger.
const (
	LogAuto = "auto" // tint when w is a terminal, JSON otherwise
	LogText = "text" // tint (colours only on a terminal)
	LogJSON = "json"
)

// NewLogger returns a logger writing to w in format (LogAuto, LogText or
// LogJSON) at level. Colours are used only when w is a terminal.
func NewLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	tty := IsTerminal(w)
	switch format {
	case LogAuto, "":
		if tty {
			return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly})), nil
		}
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
	case LogText:
		return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly, NoColor: !tty})), nil
	case LogJSON:
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
	}
	return nil, WithCode(ExitUsage, fmt.Errorf("unknown log format %q (want auto, text or json)", format))
}

// ParseLevel parses debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, WithCode(ExitUsage, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s))
	}
	return l, nil
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
