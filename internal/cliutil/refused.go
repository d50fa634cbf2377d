package cliutil

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A server that refuses connections (too many clients, starting up,
// shutting down) is weather, not failure: the commands wait and retry, and
// say what to change when it lasts (issue 9).

// refusedLogEvery bounds how often PoolOptions.Refused is called.
const refusedLogEvery = 5 * time.Second

// healthCheckPeriod is how often the pool looks for connections idle longer
// than PoolOptions.IdleTimeout.
const healthCheckPeriod = time.Second

// Refusal is the SQLSTATE of err when it says the server refused a
// connection or is going away: 53300 (too many clients, or too many for the
// role or database), 57P03 (starting up), 57P01/57P02 (shutting down).
// It returns "" for any other error.
func Refusal(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "53300", "57P01", "57P02", "57P03":
			return pgErr.Code
		}
	}
	return ""
}

// RefusedHint says what a refusal means and what to change.
func RefusedHint(code string) string {
	switch code {
	case "53300":
		return "PostgreSQL has no connection slot left: the fleet's connections exceed max_connections (or the role's or database's connection limit); " +
			"raise max_connections, put a pooler (PgBouncer) in front of the server, or lower --pool-max-conns of the workers (docs/OPERATIONS.md, \"Sizing the pool\")"
	case "57P03":
		return "PostgreSQL is starting up and not accepting connections yet"
	case "57P01", "57P02":
		return "PostgreSQL is shutting down or restarting"
	}
	return ""
}

// applyBudget sets the pool's idle handling and the refusal tracer.
func applyBudget(cfg *pgxpool.Config, opts PoolOptions) {
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	if opts.IdleTimeout > 0 {
		cfg.MaxConnIdleTime = opts.IdleTimeout
		cfg.HealthCheckPeriod = min(healthCheckPeriod, opts.IdleTimeout)
	}
	if opts.Refused != nil && cfg.ConnConfig.Tracer == nil {
		cfg.ConnConfig.Tracer = &refusalTracer{report: opts.Refused}
	}
}

// refusalTracer reports refused connections of a pool, at most once every
// refusedLogEvery.
type refusalTracer struct {
	report func(error)
	mu     sync.Mutex
	last   time.Time
}

func (t *refusalTracer) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return ctx
}

func (t *refusalTracer) TraceConnectEnd(_ context.Context, data pgx.TraceConnectEndData) {
	if data.Err == nil || Refusal(data.Err) == "" {
		return
	}
	t.mu.Lock()
	due := time.Since(t.last) >= refusedLogEvery
	if due {
		t.last = time.Now()
	}
	t.mu.Unlock()
	if due {
		t.report(data.Err)
	}
}

// RetryOptions tunes OpenPoolRetry.
type RetryOptions struct {
	// For bounds the retries (0: until ctx is done).
	For time.Duration
	// Waiting, when set, is called before each wait with the refusal and
	// the wait.
	Waiting func(err error, code string, wait time.Duration)
}

// OpenPoolRetry is OpenPool that waits and retries, with backoff from
// 100 ms to 5 s, while the server refuses connections (Refusal). Other
// errors fail at once. When it gives up, the error names the refusal and
// what to change (RefusedHint).
func OpenPoolRetry(ctx context.Context, databaseURL string, opts PoolOptions, ro RetryOptions) (*pgxpool.Pool, error) {
	var deadline time.Time
	if ro.For > 0 {
		deadline = time.Now().Add(ro.For)
	}
	wait := 100 * time.Millisecond
	for {
		pool, err := OpenPool(ctx, databaseURL, opts)
		code := Refusal(err)
		if err == nil || code == "" {
			return pool, err
		}
		giveUp := ctx.Err() != nil || (!deadline.IsZero() && time.Now().Add(wait).After(deadline))
		if giveUp {
			what := "kept refusing"
			if ro.For > 0 {
				what = fmt.Sprintf("kept refusing for %s", ro.For.Round(time.Second))
			}
			return nil, fmt.Errorf("%w (the server %s: %s)", err, what, RefusedHint(code))
		}
		if ro.Waiting != nil {
			ro.Waiting(err, code, wait)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%s)", err, RefusedHint(code))
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// TraceQueryStart and TraceQueryEnd do nothing: pgx takes a connect tracer
// only as part of a query tracer.
func (t *refusalTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (t *refusalTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// connectErr is OpenPool's error for a failed connect: its text names the
// server without the password, and it still wraps pgx's error, so that
// Refusal and dbtx.IsConnError see the SQLSTATE.
func connectErr(databaseURL string, err error) error {
	return &redactedError{msg: fmt.Sprintf("connect to %s: %s%s", Describe(databaseURL), Redact(err.Error()), poolerHint(err)), err: err}
}

// redactedError shows msg (passwords removed) and unwraps to err.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
