package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/jobs"
)

// chainKind is the kind of plain River's chain job.
const chainKind = "bench_chain"

// chainArgs is one hop of plain River's chain: hop 0 is inserted by the
// bench, and each hop inserts the next until Hops.
type chainArgs struct {
	Hop  int `json:"hop"`
	Hops int `json:"hops"`
}

func (chainArgs) Kind() string { return chainKind }

// chainWorker is River's counterpart of a QuantumFlow node completion: the
// job completes itself with river.JobCompleteTx and inserts its successor
// in the same transaction.
type chainWorker struct {
	river.WorkerDefaults[chainArgs]
	pool *pgxpool.Pool
}

func (w *chainWorker) Work(ctx context.Context, job *river.Job[chainArgs]) error {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("chain hop %d: begin: %w", job.Args.Hop, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("chain hop %d: complete: %w", job.Args.Hop, err)
	}
	if next := job.Args.Hop + 1; next < job.Args.Hops {
		client := river.ClientFromContext[pgx.Tx](ctx)
		if _, err := client.InsertTx(ctx, tx, chainArgs{Hop: next, Hops: job.Args.Hops}, nil); err != nil {
			return fmt.Errorf("chain hop %d: insert hop %d: %w", job.Args.Hop, next, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("chain hop %d: commit: %w", job.Args.Hop, err)
	}
	return nil
}

// workerClient is a worker process's River client and, on the QuantumFlow
// side, its flow client.
type workerClient struct {
	river *river.Client[pgx.Tx]
	flow  *flow.Client // nil for plain River
}

// newWorkerClient builds the River client of a worker child. Both modes
// get the same workers (the built-in kinds and the chain job) and the same
// settings (queue, MaxWorkers, FetchCooldown, FetchPollInterval, pool);
// QuantumFlow's mode goes through flow.Client.RiverConfig as cmd/worker
// does, which adds the node middleware (the reconciler runs with the
// fleet member, see childmain.go).
func newWorkerClient(pool *pgxpool.Pool, spec *childSpec, id string, logger *slog.Logger) (*workerClient, error) {
	workers := river.NewWorkers()
	if err := jobs.Register(workers); err != nil {
		return nil, fmt.Errorf("register built-in kinds: %w", err)
	}
	river.AddWorker(workers, &chainWorker{pool: pool})
	cfg := &river.Config{
		ID:                id,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: spec.MaxWorkers}},
		Workers:           workers,
		Logger:            logger,
		FetchCooldown:     spec.FetchCooldown,
		FetchPollInterval: spec.FetchPollInterval,
	}
	out := &workerClient{}
	switch spec.Mode {
	case modeRiver:
	case modeQuantumFlow:
		fc, err := flow.NewClient(pool, &flow.Config{Logger: logger, CompletionBatchMax: spec.BatchMax})
		if err != nil {
			return nil, fmt.Errorf("flow client: %w", err)
		}
		out.flow = fc
		if cfg, err = fc.RiverConfig(cfg); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown worker mode %q", spec.Mode)
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	out.river = rc
	return out, nil
}

// newInsertClient is an insert-only River client (no queues, no workers).
func newInsertClient(pool *pgxpool.Pool) (*river.Client[pgx.Tx], error) {
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: quietLogger()})
	if err != nil {
		return nil, fmt.Errorf("river insert client: %w", err)
	}
	return rc, nil
}

// noopParams returns n InsertManyParams of no-op jobs.
func noopParams(n int) []river.InsertManyParams {
	params := make([]river.InsertManyParams, n)
	for i := range params {
		params[i] = river.InsertManyParams{Args: jobs.NoopArgs{}}
	}
	return params
}
