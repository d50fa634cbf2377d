// Package completer is the complete step: it records that a node's job
// succeeded, with River's completion of the job, and releases what became
// ready, in one transaction. One transaction per node caps a workflow at
// the commit rate of the database (about 900 nodes/s on 2 cores), so by
// default the completer batches: the middleware hands it a finished node
// and waits; the completer completes every node handed to it while its
// previous transaction was running, in one transaction (group commit): the
// jobs without a River-recorded output in one statement, the others one by
// one with river.JobCompleteTx (which honours RecordOutput), then the
// set-based release statements once for the whole batch, and one insert of
// every released job (one NOTIFY). A job's Work returns only after the
// transaction holding its completion committed, so the guarantees are those
// of the per-node path, which CompleteNodeTx keeps for workers that write
// their own data in the completion transaction.
package completer

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/internal/dbtx"
	"github.com/quantumflow/quantumflow/internal/noderun"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// BatchMaxDefault bounds how many node completions share one transaction.
const BatchMaxDefault = 1000

// flushersMax bounds the concurrent flush loops of one process. Measured on
// a 1 → 20 000 → 1 workflow (one worker, 500 slots, 2 cores): 1 flusher
// 4.3 s, 2 flushers 4.1 s, 4 flushers 6.8 s; concurrent batches mostly
// contend for the same rows, so one is kept.
const flushersMax = 1

// Completer completes nodes for one process. It is safe for concurrent use.
type Completer struct {
	env *noderun.Env
	max int

	mu       sync.Mutex
	queue    []*pending
	flushing int // flush loops running
}

var _ noderun.Completer = (*Completer)(nil)

// New returns a completer that puts up to batchMax nodes in one
// transaction; 1 gives every node its own.
func New(env *noderun.Env, batchMax int) *Completer {
	return &Completer{env: env, max: batchMax}
}

// pending is one finished job waiting for its batch.
type pending struct {
	// jobCtx is the job's context: River's JobCompleteTx finds its client
	// and the outputs recorded with River's RecordOutput there.
	jobCtx context.Context
	run    *noderun.Run
	done   chan error
}

// Complete completes run's node and returns once the transaction that did
// it committed or failed.
func (c *Completer) Complete(jobCtx context.Context, run *noderun.Run) error {
	if c.max <= 1 {
		return c.completeOne(jobCtx, run)
	}
	p := &pending{jobCtx: jobCtx, run: run, done: make(chan error, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, p)
	start := c.flushing < flushersMax
	if start {
		c.flushing++
	}
	c.mu.Unlock()
	if start {
		go c.flushLoop()
	}
	return <-p.done
}

// completeOne is the per-node path: its own transaction.
func (c *Completer) completeOne(jobCtx context.Context, run *noderun.Run) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(jobCtx), noderun.SettleTimeout)
	defer cancel()
	var stats observe.Stats
	err := dbtx.RunDurable(ctx, c.env.Pool, c.env.Logger, "complete node "+run.Meta.Path, func(tx pgx.Tx) error {
		var err error
		_, stats, err = CompleteNodeTx(ctx, tx, c.env, run)
		return err
	})
	if err == nil {
		observe.Report(c.env.Observer, stats)
	}
	return err
}

// CompleteNodeTx completes run's job with River and its node, and releases
// what became ready, in tx. settled is false when the node was already
// final. ctx must carry the job's context values (River's client and
// recorded output).
func CompleteNodeTx(ctx context.Context, tx pgx.Tx, env *noderun.Env, run *noderun.Run) (settled bool, stats observe.Stats, err error) {
	o, err := completeJobTx(ctx, tx, run)
	if err != nil {
		return false, observe.Stats{}, err
	}
	n, stats, err := release.FinishTx(ctx, tx, env.Inserter, []release.Outcome{o})
	if err != nil {
		return false, observe.Stats{}, err
	}
	return n == 1, stats, nil
}

// completeJobTx completes run's job with River in tx and returns its node's
// outcome, with the output set by SetOutput or else recorded with River's
// RecordOutput.
func completeJobTx(ctx context.Context, tx pgx.Tx, run *noderun.Run) (release.Outcome, error) {
	recorded, err := riverjob.CompleteTx(ctx, tx, run.Job)
	if err != nil {
		return release.Outcome{}, fmt.Errorf("complete job %d of %s: %w", run.Job.ID, run.Meta.Path, err)
	}
	o := run.Completed(recorded)
	if err := release.CheckOutputSize(run.Meta.Path, o.Output); err != nil {
		return release.Outcome{}, err
	}
	return o, nil
}

// flushLoop flushes batches until the queue is empty.
func (c *Completer) flushLoop() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.flushing--
			c.mu.Unlock()
			return
		}
		n := min(len(c.queue), c.max)
		batch := c.queue[:n:n]
		c.queue = append([]*pending(nil), c.queue[n:]...)
		c.mu.Unlock()
		c.flush(batch)
	}
}

// flush completes batch in one transaction. When that fails for a reason
// other than a lost database (one job's completion is refused, say), each
// completion is retried alone so that one bad node does not fail the rest.
func (c *Completer) flush(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), noderun.SettleTimeout)
	defer cancel()
	var stats observe.Stats
	err := dbtx.RunDurable(ctx, c.env.Pool, c.env.Logger, fmt.Sprintf("complete %d nodes", len(batch)), func(tx pgx.Tx) error {
		var err error
		stats, err = c.completeBatchTx(ctx, tx, batch)
		return err
	})
	if err != nil && len(batch) > 1 && !dbtx.IsConnError(err) {
		c.env.Logger.WarnContext(ctx, "flow: batched completion failed; completing one by one",
			slog.Int("nodes", len(batch)), slog.String("err", err.Error()))
		for _, p := range batch {
			p.done <- dbtx.RunDurable(ctx, c.env.Pool, c.env.Logger, "complete node "+p.run.Meta.Path, func(tx pgx.Tx) error {
				var err error
				stats, err = c.completeBatchTx(ctx, tx, []*pending{p})
				return err
			})
			observe.Report(c.env.Observer, stats)
		}
		return
	}
	if err == nil {
		observe.Report(c.env.Observer, stats)
		if obs := c.env.Observer; obs != nil {
			obs.CompletionBatch(len(batch))
		}
	}
	for _, p := range batch {
		p.done <- err
	}
}

// completeBatchTx completes every job of batch with River and records and
// settles their nodes, in tx. Jobs whose Work may have recorded an output
// with River's RecordOutput are completed one by one with
// river.JobCompleteTx, which merges that output into the job; the others
// share one set-based statement.
func (c *Completer) completeBatchTx(ctx context.Context, tx pgx.Tx, batch []*pending) (observe.Stats, error) {
	outcomes := make([]release.Outcome, 0, len(batch))
	var plain []*noderun.Run
	for _, p := range batch {
		if !p.run.RecordedOutput() {
			plain = append(plain, p.run)
			continue
		}
		o, err := completeJobTx(withValuesOf(ctx, p.jobCtx), tx, p.run)
		if err != nil {
			return observe.Stats{}, err
		}
		outcomes = append(outcomes, o)
	}
	if len(plain) > 0 {
		ids, holders := make([]int64, len(plain)), make([]*string, len(plain))
		for i, run := range plain {
			ids[i] = run.Job.ID
			if h := riverjob.Holder(run.Job); h != "" {
				holders[i] = &h
			}
		}
		if err := riverjob.CompleteManyTx(ctx, tx, ids, holders); err != nil {
			return observe.Stats{}, err
		}
		for _, run := range plain {
			o := run.Completed(nil)
			if err := release.CheckOutputSize(run.Meta.Path, o.Output); err != nil {
				return observe.Stats{}, err
			}
			outcomes = append(outcomes, o)
		}
	}
	_, stats, err := release.FinishTx(ctx, tx, c.env.Inserter, outcomes)
	return stats, err
}

// valuesOf is a context whose deadline and cancellation come from one
// context and whose values come from another: the batch's transaction runs
// under the completer's deadline, while River's JobCompleteTx reads its
// client and the job's recorded output from the job's context.
type valuesOf struct {
	context.Context
	values context.Context
}

func withValuesOf(ctx, values context.Context) context.Context {
	return valuesOf{Context: ctx, values: values}
}

func (v valuesOf) Value(key any) any { return v.values.Value(key) }
