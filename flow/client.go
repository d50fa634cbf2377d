package flow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// BuiltinKinds are the job kinds every QuantumFlow worker registers (package
// jobs implements them). Submitting them never needs a registered worker.
var BuiltinKinds = []string{"echo", "fail", "noop", "sleep"}

const (
	// ReconcileIntervalDefault is how often the reconciler runs.
	ReconcileIntervalDefault = 15 * time.Second

	// ReconcileGraceDefault is how long a finished job may wait for its node
	// to be settled before the reconciler settles it. It covers the gap
	// between a worker's commit and River's own completion write.
	ReconcileGraceDefault = 10 * time.Second

	// txAttemptsMax bounds how often a completion transaction is retried
	// after a deadlock or serialization failure.
	txAttemptsMax = 5
)

// Config configures a Client. The zero value is usable.
type Config struct {
	// Logger receives the runtime's logs. Defaults to slog.Default().
	Logger *slog.Logger

	// ReconcileGrace is how long a finished River job may stay unmatched by
	// its node before the reconciler settles the node from the job. Defaults
	// to ReconcileGraceDefault.
	ReconcileGrace time.Duration

	// ReconcileInterval is how often the elected leader runs the reconciler
	// (see RiverConfig). Defaults to ReconcileIntervalDefault.
	ReconcileInterval time.Duration

	// CompletionBatchMax bounds how many finished nodes of this process
	// share one completion transaction (see batch.go): a busy worker
	// completes up to this many nodes per commit, an idle one each node at
	// once. 1 gives every node its own transaction. Defaults to
	// CompletionBatchMaxDefault. Nodes completed with CompleteNodeTx always
	// use the caller's transaction.
	CompletionBatchMax int

	// Observer, when set, is told what the runtime did (nodes released,
	// workflows finished, dead workers swept), for metrics.
	Observer Observer
}

func (c *Config) withDefaults() *Config {
	out := *c
	out.Logger = cmp.Or(out.Logger, slog.Default())
	out.ReconcileGrace = cmp.Or(out.ReconcileGrace, ReconcileGraceDefault)
	out.ReconcileInterval = cmp.Or(out.ReconcileInterval, ReconcileIntervalDefault)
	out.CompletionBatchMax = cmp.Or(out.CompletionBatchMax, CompletionBatchMaxDefault)
	return &out
}

func (c *Config) validate() error {
	if c.ReconcileGrace < 0 {
		return fmt.Errorf("ReconcileGrace must not be negative (got %s)", c.ReconcileGrace)
	}
	if c.CompletionBatchMax < 1 {
		return fmt.Errorf("CompletionBatchMax must be at least 1 (got %d)", c.CompletionBatchMax)
	}
	if c.ReconcileInterval < time.Second {
		return fmt.Errorf("ReconcileInterval must be at least 1s (got %s)", c.ReconcileInterval)
	}
	return nil
}

// Client submits, follows, cancels and retries workflows, and provides the
// worker middleware that completes nodes. It is safe for concurrent use.
//
// Methods ending in Tx run in the caller's transaction; the caller commits
// or rolls it back. The others open and commit their own transaction.
type Client struct {
	config   *Config
	inserter *river.Client[pgx.Tx]
	pool     *pgxpool.Pool

	// runningMu guards running: workflows this process has already moved
	// from pending to running, so that only the first job of a workflow
	// pays for that update. It is an optimization: losing it costs one
	// no-op UPDATE.
	runningMu sync.Mutex
	running   map[string]struct{}

	// batcher completes nodes in shared transactions; nil when
	// Config.CompletionBatchMax is 1.
	batcher *batcher
}

// NewClient returns a client on pool. The pool's search_path selects the
// schema; migrations.Migrate must have been applied to it.
func NewClient(pool *pgxpool.Pool, config *Config) (*Client, error) {
	if pool == nil {
		return nil, errors.New("flow: pool is nil")
	}
	if config == nil {
		config = &Config{}
	}
	config = config.withDefaults()
	if err := config.validate(); err != nil {
		return nil, fmt.Errorf("flow: config: %w", err)
	}
	// An insert-only River client: it has no workers, so it inserts jobs of
	// any kind, including kinds that only other workers of the fleet run.
	// Its FetchCooldown also paces River's insert notifications, so keep it
	// at the minimum: a released child should wake a worker at once.
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		FetchCooldown: river.FetchCooldownMin,
		Logger:        config.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("flow: river insert client: %w", err)
	}
	c := &Client{config: config, inserter: inserter, pool: pool, running: map[string]struct{}{}}
	if config.CompletionBatchMax > 1 {
		c.batcher = &batcher{client: c, max: config.CompletionBatchMax}
	}
	return c, nil
}

// Pool returns the pool the client was built on.
func (c *Client) Pool() *pgxpool.Pool { return c.pool }

// inTx runs fn in a transaction and commits it, retrying the whole
// transaction when PostgreSQL aborts it for a deadlock or a serialization
// failure. fn must be safe to run again from the start.
func (c *Client) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := 1; attempt <= txAttemptsMax; attempt++ {
		err = pgx.BeginFunc(ctx, c.pool, fn)
		if err == nil || !isRetryableTxError(err) {
			break
		}
		c.config.Logger.DebugContext(ctx, "flow: retrying transaction", slog.String("op", what), slog.Int("attempt", attempt), slog.String("err", err.Error()))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// inTxDurable is inTx for work that must reach the database, such as
// recording a node's outcome after its job ran: besides deadlocks and
// serialization failures it also retries lost connections and a server
// that is restarting, with backoff, until ctx is done. fn must be
// idempotent even when a previous attempt's commit succeeded unseen (the
// connection dropped after COMMIT was sent); node completion is, because it
// changes only nodes still enqueued for the job's run.
func (c *Client) inTxDurable(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := c.inTx(ctx, what, fn)
		if err == nil || !isConnError(err) || ctx.Err() != nil {
			return err
		}
		c.config.Logger.WarnContext(ctx, "flow: database unreachable; retrying", slog.String("op", what),
			slog.Int("attempt", attempt), slog.String("err", err.Error()))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// isConnError reports whether err means the database could not be reached
// or went away: a failed connect, a dropped connection, or a server shutting
// down or starting up (SQLSTATE classes 08 and 57P0x).
func isConnError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
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

// isRetryableTxError reports whether err is a deadlock (40P01) or a
// serialization failure (40001): the transaction was rolled back and may be
// run again.
func isRetryableTxError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// markRunning moves a workflow from pending to running the first time this
// process sees one of its jobs start.
func (c *Client) markRunning(ctx context.Context, wf string) error {
	c.runningMu.Lock()
	_, seen := c.running[wf]
	c.runningMu.Unlock()
	if seen {
		return nil
	}
	if _, err := c.pool.Exec(ctx, `
UPDATE qf_workflow SET status = 'running', started_at = now()
WHERE id = $1 AND status = 'pending'`, wf); err != nil {
		return fmt.Errorf("mark workflow %s running: %w", wf, err)
	}
	c.runningMu.Lock()
	if len(c.running) >= 10_000 {
		clear(c.running)
	}
	c.running[wf] = struct{}{}
	c.runningMu.Unlock()
	return nil
}
