package flow

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// This file is the batched completion path. One transaction per node caps a
// DAG at the commit rate of the database (DESIGN: ~900 nodes/s on 2 cores).
// Instead, the middleware hands a finished node to the process's batcher
// and waits; the batcher completes every node handed to it while its
// previous transaction was running, in one transaction (group commit): each
// job's river.JobCompleteTx (so River's RecordOutput is honoured), then the
// set-based release statements once for the whole batch, and one insert of
// every released job (one NOTIFY). A job's Work returns only after the
// transaction holding its completion committed, so the guarantees are those
// of the per-node path. CompleteNodeTx keeps the per-node path for workers
// that write their own data in the completion transaction.

// CompletionBatchMaxDefault bounds how many node completions share one
// transaction.
const CompletionBatchMaxDefault = 1000

// batcher gathers the completions of this process's jobs into shared
// transactions. At most flushersMax flushes run at a time: while they run,
// new completions queue up and become the next batch, so a busy process
// makes big batches and an idle one completes a node alone at once.
type batcher struct {
	client *Client
	max    int

	mu       sync.Mutex
	queue    []*pendingCompletion
	flushing int // flush loops running
}

// flushersMax bounds the concurrent flush loops of one process. Measured on
// a 1 → 20 000 → 1 workflow (one worker, 500 slots, 2 cores): 1 flusher
// 4.3 s, 2 flushers 4.1 s, 4 flushers 6.8 s; concurrent batches mostly
// contend for the same rows, so one is kept.
const flushersMax = 1

// pendingCompletion is one finished job waiting for its batch.
type pendingCompletion struct {
	// jobCtx is the job's context: River's JobCompleteTx finds its client
	// and the outputs recorded with River's RecordOutput there.
	jobCtx context.Context
	run    *nodeRun
	done   chan error
}

// complete completes run's node in a shared transaction and returns once
// that transaction committed or failed.
func (b *batcher) complete(jobCtx context.Context, run *nodeRun) error {
	p := &pendingCompletion{jobCtx: jobCtx, run: run, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	start := b.flushing < flushersMax
	if start {
		b.flushing++
	}
	b.mu.Unlock()
	if start {
		go b.flushLoop()
	}
	return <-p.done
}

// flushLoop flushes batches until the queue is empty.
func (b *batcher) flushLoop() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.flushing--
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), b.max)
		batch := b.queue[:n:n]
		b.queue = append([]*pendingCompletion(nil), b.queue[n:]...)
		b.mu.Unlock()
		b.flush(batch)
	}
}

// flush completes batch in one transaction. When that fails for a reason
// other than a lost database (one job's completion is refused, say), each
// completion is retried alone so that one bad node does not fail the rest.
func (b *batcher) flush(batch []*pendingCompletion) {
	c := b.client
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	var stats settleStats
	err := c.inTxDurable(ctx, fmt.Sprintf("complete %d nodes", len(batch)), func(tx pgx.Tx) error {
		var err error
		stats, err = c.completeBatchTx(ctx, tx, batch)
		return err
	})
	if err != nil && len(batch) > 1 && !isConnError(err) {
		c.config.Logger.WarnContext(ctx, "flow: batched completion failed; completing one by one",
			slog.Int("nodes", len(batch)), slog.String("err", err.Error()))
		for _, p := range batch {
			p.done <- c.inTxDurable(ctx, "complete node "+p.run.meta.Path, func(tx pgx.Tx) error {
				var err error
				stats, err = c.completeBatchTx(ctx, tx, []*pendingCompletion{p})
				return err
			})
			c.report(stats)
		}
		return
	}
	if err == nil {
		c.report(stats)
		if obs := c.config.Observer; obs != nil {
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
func (c *Client) completeBatchTx(ctx context.Context, tx pgx.Tx, batch []*pendingCompletion) (settleStats, error) {
	outcomes := make([]nodeOutcome, 0, len(batch))
	var plain []*nodeRun
	for _, p := range batch {
		if !p.run.recordedOutput.Load() {
			plain = append(plain, p.run)
			continue
		}
		o, err := c.completeJobTx(withValuesOf(ctx, p.jobCtx), tx, p.run)
		if err != nil {
			return settleStats{}, err
		}
		outcomes = append(outcomes, o)
	}
	if len(plain) > 0 {
		if err := completeJobsTx(ctx, tx, plain); err != nil {
			return settleStats{}, err
		}
		for _, run := range plain {
			run.mu.Lock()
			output := run.output
			run.mu.Unlock()
			if err := checkOutputSize(run.meta.Path, output); err != nil {
				return settleStats{}, err
			}
			outcomes = append(outcomes, nodeOutcome{run: run, state: "completed", output: output})
		}
	}
	_, stats, err := c.finishNodeTx(ctx, tx, outcomes)
	return stats, err
}

// completeJobsTx sets many running jobs completed in one statement: what
// river.JobCompleteTx does for one job without recorded output (state and
// finalized_at; a job that is no longer running is left as it is). River's
// own JobSetStateIfRunningMany would do the same, but it takes a dozen
// arrays and returns whole rows, and it cost twice this statement's time in
// the 1 → 5 000 → 1 profile.
func completeJobsTx(ctx context.Context, tx pgx.Tx, runs []*nodeRun) error {
	ids := make([]int64, len(runs))
	for i, run := range runs {
		ids[i] = run.job.ID
	}
	if _, err := tx.Exec(ctx, sqlCompleteJobs, ids, time.Now().UTC()); err != nil {
		return fmt.Errorf("complete %d jobs: %w", len(ids), err)
	}
	return nil
}

const sqlCompleteJobs = `
UPDATE river_job SET state = 'completed', finalized_at = $2
WHERE id = ANY($1::bigint[]) AND state = 'running'`

// valuesOf is a context whose deadline and cancellation come from one
// context and whose values come from another: the batch's transaction runs
// under the batcher's deadline, while River's JobCompleteTx reads its client
// and the job's recorded output from the job's context.
type valuesOf struct {
	context.Context
	values context.Context
}

func withValuesOf(ctx, values context.Context) context.Context {
	return valuesOf{Context: ctx, values: values}
}

func (v valuesOf) Value(key any) any { return v.values.Value(key) }

// completeJobTx completes run's job with River in tx and returns its node's
// outcome, with the output set by SetOutput or else recorded with River's
// RecordOutput.
func (c *Client) completeJobTx(ctx context.Context, tx pgx.Tx, run *nodeRun) (nodeOutcome, error) {
	updated, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, &river.Job[nodeArgs]{JobRow: run.job})
	if err != nil {
		return nodeOutcome{}, fmt.Errorf("complete job %d of %s: %w", run.job.ID, run.meta.Path, err)
	}
	run.mu.Lock()
	output := run.output
	run.mu.Unlock()
	if output == nil {
		output = updated.Output()
	}
	if err := checkOutputSize(run.meta.Path, output); err != nil {
		return nodeOutcome{}, err
	}
	return nodeOutcome{run: run, state: "completed", output: output}, nil
}

// outputSpy is the context a node's Work runs with. It notices when Work
// looks up the map in which River's RecordOutput stores the job's output
// (River keeps it in the job's context; this is the only sign of it that
// River's public API leaves): such a job is completed with
// river.JobCompleteTx, which reads the map. Anything else that looks up a
// map[string]any value only costs the fast path. TestRecordOutput guards
// the assumption against River upgrades.
type outputSpy struct {
	context.Context
	touched *atomic.Bool
}

func (s outputSpy) Value(key any) any {
	v := s.Context.Value(key)
	if _, ok := v.(map[string]any); ok {
		s.touched.Store(true)
	}
	return v
}
