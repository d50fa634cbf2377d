package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// openPool opens the worker's pool within its connection budget and logs
// the budget. While PostgreSQL refuses connections (too many clients,
// starting up, shutting down) it waits and retries until ctx is done: a
// full server is weather, and the worker starts once a slot frees up. Once
// running, refused connections are logged (at most every 5 s) and retried
// by whoever needed them: River's fetches and completer, QuantumFlow's
// completions (dbtx.RunDurable).
func openPool(ctx context.Context, cfg *config, logger *slog.Logger) (*pgxpool.Pool, error) {
	logger.Info("connection budget",
		slog.Int("peak", int(cfg.poolMaxConns)),
		slog.Int("idle", cfg.idleConns()),
		slog.Duration("idle_timeout", cfg.poolIdleTimeout))
	opts := cliutil.PoolOptions{
		// River's listener takes one connection out of the pool for good
		// (it hijacks it for LISTEN), and the pool may then open another:
		// one less keeps the worker's total at --pool-max-conns.
		MaxConns:        cfg.poolMaxConns - 1,
		ApplicationName: "quantumflow-worker",
		IdleTimeout:     cfg.poolIdleTimeout,
		Refused: func(err error) {
			code := cliutil.Refusal(err)
			logger.Warn("database refused a connection; retrying",
				slog.String("sqlstate", code), slog.String("hint", cliutil.RefusedHint(code)),
				slog.String("error", cliutil.Redact(err.Error())))
		},
	}
	return cliutil.OpenPoolRetry(ctx, cfg.databaseURL, opts, cliutil.RetryOptions{
		Waiting: func(err error, code string, wait time.Duration) {
			logger.Warn("database refused the connection; waiting to start",
				slog.String("sqlstate", code), slog.String("hint", cliutil.RefusedHint(code)),
				slog.Duration("retry_in", wait), slog.String("error", cliutil.Redact(err.Error())))
		},
	})
}
