package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/dag"
)

// settleTimeout bounds the database work that records a node's outcome after
// its job returned, including retries while the database is unreachable (a
// restart). It is detached from the job's context, which may already be
// cancelled (a timeout, a shutdown).
const settleTimeout = time.Minute

// Middleware returns the River worker middleware that turns ordinary River
// workers into workflow nodes. Install it in the worker's river.Config
// (RiverConfig does). For a job that belongs to a workflow it:
//
//   - moves the workflow from pending to running on its first job;
//   - enforces the node's timeout (the context is cancelled with ErrTimeout
//     as its cause, and the attempt fails saying it timed out);
//   - on success, completes the job with river.JobCompleteTx, stores the
//     node's output and releases the dependents that became ready, all in
//     one transaction;
//   - on the last failed attempt, records the node as failed and applies
//     its dependents' on_dep_failure policies, in one transaction, before
//     River discards the job.
//
// Jobs that are not part of a workflow pass through untouched.
func (c *Client) Middleware() rivertype.WorkerMiddleware {
	return &middleware{client: c}
}

type middleware struct {
	river.MiddlewareDefaults
	client *Client
}

func (m *middleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	meta, ok := parseJobMeta(job.Metadata)
	if !ok {
		return doInner(ctx)
	}
	c := m.client
	if err := c.markRunning(ctx, meta.Workflow); err != nil {
		return err
	}
	run := &nodeRun{client: c, job: job, meta: meta}
	ctx = context.WithValue(ctx, nodeRunKey{}, run)

	workCtx := ctx
	var (
		timeout      time.Duration
		nodeDeadline time.Time
	)
	if meta.TimeoutMS > 0 {
		timeout = time.Duration(meta.TimeoutMS) * time.Millisecond
		nodeDeadline = time.Now().Add(timeout)
		var cancel context.CancelFunc
		workCtx, cancel = context.WithTimeoutCause(ctx, timeout, ErrTimeout)
		defer cancel()
	}
	err := doInner(outputSpy{Context: workCtx, touched: &run.recordedOutput})
	if timeout > 0 && nodeTimedOut(workCtx, nodeDeadline) {
		if err == nil {
			err = ErrTimeout
		}
		err = fmt.Errorf("node %s timed out after %s: %w", meta.Path, timeout, err)
	}

	dbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err == nil {
		run.mu.Lock()
		done, stats := run.completedInTx, run.stats
		run.mu.Unlock()
		if done {
			c.report(stats)
			return nil
		}
		if c.batcher != nil {
			err = c.batcher.complete(ctx, run)
		} else {
			err = c.inTxDurable(dbCtx, "complete node "+meta.Path, func(tx pgx.Tx) error {
				_, err := c.completeNodeTx(dbCtx, tx, run)
				return err
			})
			if err == nil {
				run.mu.Lock()
				stats = run.stats
				run.mu.Unlock()
				c.report(stats)
			}
		}
		if err == nil {
			return nil
		}
		// A refused completion (an output over the limit, say) is the
		// attempt's failure: on the last attempt the node fails below.
	}
	if isFinalFailure(job, err) {
		state := "failed"
		if errors.Is(err, &river.JobCancelError{}) {
			state = "cancelled"
		}
		var stats settleStats
		if txErr := c.inTxDurable(dbCtx, "fail node "+meta.Path, func(tx pgx.Tx) error {
			var err2 error
			_, stats, err2 = c.finishNodeTx(dbCtx, tx, []nodeOutcome{{run: run, state: state, err: err.Error()}})
			return err2
		}); txErr == nil {
			c.report(stats)
		} else {
			c.config.Logger.ErrorContext(ctx, "flow: record node failure; the reconciler will settle it",
				slog.String("node", meta.Path), slog.String("workflow", meta.Workflow), slog.String("err", txErr.Error()))
		}
	}
	return err
}

// nodeTimedOut reports whether the node's own timeout ended the work: our
// deadline fired, or River's deadline for the job fired first at (about) the
// same instant because the worker's Timeout returns the node's timeout. A
// much earlier River deadline (the client's JobTimeout) is not the node's.
func nodeTimedOut(workCtx context.Context, nodeDeadline time.Time) bool {
	if errors.Is(context.Cause(workCtx), ErrTimeout) {
		return true
	}
	deadline, ok := workCtx.Deadline()
	return ok && errors.Is(workCtx.Err(), context.DeadlineExceeded) &&
		nodeDeadline.Sub(deadline) < 100*time.Millisecond
}

// isFinalFailure reports whether River will not run the job again after it
// returned err: the attempts are used up, or the job cancelled itself.
func isFinalFailure(job *rivertype.JobRow, err error) bool {
	if errors.Is(err, &river.JobCancelError{}) {
		return true
	}
	var snooze *river.JobSnoozeError
	if errors.As(err, &snooze) {
		return false
	}
	return job.Attempt >= job.MaxAttempts
}

// CompleteNodeTx completes the running job's River job and its node in the
// caller's transaction: the node's output is stored, and the dependents that
// became ready are released (their jobs inserted) in tx. Use it from a
// worker that writes its own data in the same transaction; the caller
// commits, then returns nil from Work, and the middleware does nothing more.
// If tx is rolled back, nothing happened and the worker should return an
// error so the job is retried.
//
// settled is false when the node was already final (a job handed out again
// after its node was settled, or a node cancelled meanwhile): nothing about
// the node changed, and the caller should roll back its own writes if they
// must happen once.
//
// ctx must be the job's context. Returns ErrNotInNode outside a workflow
// job.
func CompleteNodeTx(ctx context.Context, tx pgx.Tx) (settled bool, err error) {
	run, err := nodeRunFrom(ctx)
	if err != nil {
		return false, err
	}
	settled, err = run.client.completeNodeTx(ctx, tx, run)
	if err != nil {
		return false, err
	}
	run.mu.Lock()
	run.completedInTx = true
	run.mu.Unlock()
	return settled, nil
}

// completeNodeTx is the completion transaction of one node: River's
// completion, the node's final row, and the release of its dependents.
func (c *Client) completeNodeTx(ctx context.Context, tx pgx.Tx, run *nodeRun) (bool, error) {
	o, err := c.completeJobTx(ctx, tx, run)
	if err != nil {
		return false, err
	}
	n, stats, err := c.finishNodeTx(ctx, tx, []nodeOutcome{o})
	if err != nil {
		return false, err
	}
	run.mu.Lock()
	run.stats = stats
	run.mu.Unlock()
	return n == 1, nil
}

// checkOutputSize refuses an output over DESIGN's limit.
func checkOutputSize(path string, output []byte) error {
	if len(output) > dag.MaxOutputBytes {
		return fmt.Errorf("%w: %s produced %d bytes (limit %d)", ErrOutputTooLarge, path, len(output), dag.MaxOutputBytes)
	}
	return nil
}

// nodeOutcome is how a node's job ended.
type nodeOutcome struct {
	run    *nodeRun
	state  string // completed, failed or cancelled
	output json.RawMessage
	err    string
}

// finishNodeTx records the outcomes of many jobs' nodes in tx and settles
// what follows. A node that is no longer enqueued for the job's run (it was
// cancelled, or a replayed job finds it already final) is left unchanged, so
// a replay changes nothing. It returns the number of nodes it settled and
// what settling them did, to report to the Observer after commit.
func (c *Client) finishNodeTx(ctx context.Context, tx pgx.Tx, outcomes []nodeOutcome) (int, settleStats, error) {
	n := len(outcomes)
	wfs, idxs, runs, states := make([]string, n), make([]int32, n), make([]int32, n), make([]string, n)
	outputs, errs := make([]*string, n), make([]*string, n)
	attempts, children := make([]int32, n), make([]int32, n)
	jobIDs, started := make([]int64, n), make([]*time.Time, n)
	for i, o := range outcomes {
		wfs[i], idxs[i], runs[i], states[i] = o.run.meta.Workflow, o.run.meta.Node, o.run.meta.Run, o.state
		if o.output != nil {
			s := string(o.output)
			outputs[i] = &s
		}
		if o.err != "" {
			s := truncate(o.err, 64<<10)
			errs[i] = &s
		}
		attempts[i], jobIDs[i], started[i] = int32(o.run.job.Attempt), o.run.job.ID, o.run.job.AttemptedAt
		if o.state == "completed" && o.run.expansion != nil {
			children[i] = int32(o.run.expansion.sinks)
		}
	}
	rows, err := tx.Query(ctx, sqlFinishNodes, wfs, idxs, runs, states, outputs, errs, attempts, jobIDs, started, children)
	if err != nil {
		return 0, settleStats{}, fmt.Errorf("record node outcome: %w", err)
	}
	fin, err := pgx.CollectRows(rows, scanFinished)
	if err != nil {
		return 0, settleStats{}, fmt.Errorf("record node outcome: %w", err)
	}

	expansions := map[nodeRef]*expansion{}
	for _, o := range outcomes {
		if o.state == "completed" && o.run.expansion != nil {
			expansions[nodeRef{o.run.meta.Workflow, o.run.meta.Node}] = o.run.expansion
		}
	}
	e := &engine{tx: tx}
	var final []finished
	for _, f := range fin {
		exp := expansions[f.nodeRef]
		if exp == nil {
			final = append(final, f)
			continue
		}
		roots, err := c.applyExpansionTx(ctx, tx, f.wf, f.idx, exp)
		if err != nil {
			return 0, settleStats{}, err
		}
		e.ready = append(e.ready, roots...)
	}
	if err := e.settle(ctx, final); err != nil {
		return 0, settleStats{}, err
	}
	if err := insertJobs(ctx, c.inserter, tx, e.ready); err != nil {
		return 0, settleStats{}, err
	}
	return len(fin), e.stats(), nil
}

// sqlFinishNodes records job outcomes on nodes still enqueued for the same
// run. A completed node with an expansion becomes active instead of final,
// with remaining_children set to the expansion's sink count.
const sqlFinishNodes = `
WITH o AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[],
                         $7::int[], $8::bigint[], $9::timestamptz[], $10::int[])
        AS o(workflow_id, idx, run, state, output, error, attempts, job_id, started_at, children)
), upd AS (
    UPDATE qf_node q SET
        state              = CASE WHEN o.children > 0 THEN 'active' ELSE o.state END,
        output             = o.output::jsonb,
        error              = o.error,
        attempts           = q.attempt_base + o.attempts,
        job_id             = o.job_id,
        started_at         = o.started_at,
        finished_at        = CASE WHEN o.children > 0 THEN NULL ELSE now() END,
        remaining_children = o.children,
        failed_children    = 0
    FROM o
    WHERE q.workflow_id = o.workflow_id AND q.idx = o.idx
      AND q.run = o.run AND q.state = 'enqueued'
    RETURNING q.workflow_id, q.idx, q.parent_idx, q.dependents, q.dependents = '{}' OR q.rollup_sink AS sink, q.state
)
SELECT workflow_id::text, idx, parent_idx, dependents, sink, state FROM upd`

// scanFinished reads (workflow_id, idx, parent_idx, dependents, sink,
// state) rows of nodes that just became final.
func scanFinished(row pgx.CollectableRow) (finished, error) {
	var f finished
	var state string
	err := row.Scan(&f.wf, &f.idx, &f.parent, &f.dependents, &f.sink, &state)
	f.failure = state == "failed" || state == "cancelled"
	return f, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// UnmarshalJSON keeps the encoded args; JobCompleteTx decodes the returned
// row's args into the job's args type.
func (a *nodeArgs) UnmarshalJSON(b []byte) error {
	a.args = append(a.args[:0], b...)
	return nil
}
