package flow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/quantumflow/quantumflow/internal/completer"
	"github.com/quantumflow/quantumflow/internal/dbtx"
	"github.com/quantumflow/quantumflow/internal/noderun"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/jobs"
)

const (
	// ReconcileIntervalDefault is how often the fleet runs the reconciler.
	ReconcileIntervalDefault = 15 * time.Second

	// ReconcileGraceDefault is how long a finished job may wait for its node
	// to be settled before the reconciler settles it. It covers the gap
	// between a worker's commit and River's own completion write.
	ReconcileGraceDefault = 10 * time.Second

	// CompletionBatchMaxDefault bounds how many node completions share one
	// transaction.
	CompletionBatchMaxDefault = completer.BatchMaxDefault
)

// Config configures a Client. The zero value is usable.
type Config struct {
	// Logger receives the runtime's logs. Defaults to slog.Default().
	Logger *slog.Logger

	// ReconcileGrace is how long a finished River job may stay unmatched by
	// its node before the reconciler settles the node from the job. Defaults
	// to ReconcileGraceDefault.
	ReconcileGrace time.Duration

	// ReconcileInterval is how often the fleet runs the reconciler: one
	// member per interval (see Reconcile). Defaults to
	// ReconcileIntervalDefault.
	ReconcileInterval time.Duration

	// CompletionBatchMax bounds how many finished nodes of this process
	// share one completion transaction: a busy worker completes up to this
	// many nodes per commit, an idle one each node at once. 1 gives every
	// node its own transaction. Defaults to CompletionBatchMaxDefault.
	// Nodes completed with CompleteNodeTx always use the caller's
	// transaction.
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
// Methods ending in Tx run in the caller's transaction and do all of their
// I/O through it; the caller commits or rolls it back. The others open and
// commit their own transaction, retried on a deadlock or a serialization
// failure.
type Client struct {
	config     *Config
	pool       *pgxpool.Pool
	env        *noderun.Env
	middleware *noderun.Middleware
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
	env := &noderun.Env{
		Pool:       pool,
		Inserter:   inserter,
		Logger:     config.Logger,
		KnownKinds: jobs.Kinds(), // every worker runs them
		Held:       noderun.NewHeld(),
	}
	if config.Observer != nil {
		env.Observer = config.Observer
	}
	env.Completer = completer.New(env, config.CompletionBatchMax)
	return &Client{config: config, pool: pool, env: env, middleware: noderun.NewMiddleware(env)}, nil
}

// Pool returns the pool the client was built on.
func (c *Client) Pool() *pgxpool.Pool { return c.pool }

// inTx runs fn in a transaction of its own through dbtx.Run: fn's errors
// come back as they are, so the Tx function that fn calls owns the prefix.
func (c *Client) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	return dbtx.Run(ctx, c.pool, c.config.Logger, what, fn)
}

// report tells the observer what a committed transaction did.
func (c *Client) report(s observe.Stats) { observe.Report(c.env.Observer, s) }
