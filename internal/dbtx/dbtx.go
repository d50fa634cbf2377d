// Package dbtx runs transactions the way every QuantumFlow service needs
// them: retried when PostgreSQL aborts them for a deadlock or a
// serialization failure, and, for work that must reach the database, also
// across a lost connection or a restarting server.
//
// Error prefixes belong to the function run inside: Run adds context only to
// its own failures (begin, commit), never to fn's error, so a message names
// each operation once.
package dbtx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// AttemptsMax bounds how often Run retries a transaction that PostgreSQL
// aborted for a deadlock or a serialization failure.
const AttemptsMax = 5

// Beginner starts transactions: a *pgxpool.Pool, a *pgx.Conn, or a pgx.Tx
// (a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Run runs fn in a transaction on db and commits it, running it again from
// the start when PostgreSQL aborts it for a deadlock or a serialization
// failure. fn must be safe to run again. what names the operation in the
// errors Run itself returns and in its logs.
func Run(ctx context.Context, db Beginner, logger *slog.Logger, what string, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := 1; attempt <= AttemptsMax; attempt++ {
		err = once(ctx, db, what, fn)
		if err == nil || !IsRetryable(err) {
			return err
		}
		if logger != nil {
			logger.DebugContext(ctx, "retrying transaction", slog.String("op", what), slog.Int("attempt", attempt), slog.String("err", err.Error()))
		}
	}
	return err
}

func once(ctx context.Context, db Beginner, what string, fn func(tx pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx) // the error that matters is fn's
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// RunDurable is Run for work that must reach the database, such as
// recording a node's outcome after its job ran: besides deadlocks and
// serialization failures it retries lost connections and a server that is
// shutting down or starting up, with backoff up to 2 s, until ctx is done.
// fn must be idempotent even when an earlier attempt's commit succeeded
// unseen (the connection dropped after COMMIT was sent); node completion is,
// because it changes only nodes still enqueued for the job's run.
func RunDurable(ctx context.Context, db Beginner, logger *slog.Logger, what string, fn func(tx pgx.Tx) error) error {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := Run(ctx, db, logger, what, fn)
		if err == nil || !IsConnError(err) || ctx.Err() != nil {
			return err
		}
		if logger != nil {
			logger.WarnContext(ctx, "database unreachable; retrying", slog.String("op", what),
				slog.Int("attempt", attempt), slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// IsConnError reports whether err means the database could not be reached
// or went away: a failed connect, a dropped connection, a server shutting
// down or starting up (SQLSTATE class 08 and 57P01-57P03), or a server that
// refused a new connection because it has no slot left (53300, too many
// clients: a fleet over max_connections is weather, not failure).
func IsConnError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" ||
			pgErr.Code == "53300"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		strings.Contains(err.Error(), "conn closed") || pgconn.SafeToRetry(err)
}

// IsRetryable reports whether err is a deadlock (40P01) or a serialization
// failure (40001): the transaction was rolled back and may be run again.
func IsRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}
