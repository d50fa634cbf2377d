package noderun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/dbtx"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// ErrTimeout is the cause of a node's context when its timeout expires;
// flow re-exports it.
var ErrTimeout = errors.New("node timed out")

// ErrDeclaredDead is the cause of a job's context when the fleet declared
// its worker dead (it was paused or cut off for longer than its dead_after)
// and handed the job to another worker.
var ErrDeclaredDead = errors.New("this worker was declared dead and its job handed to another worker")

// HandbackWaitMax bounds how long a stale attempt waits for the new owner
// (see awaitHandback).
const HandbackWaitMax = time.Hour

// SettleTimeout bounds the database work that records a node's outcome
// after its job returned, including retries while the database is
// unreachable (a restart). It is detached from the job's context, which may
// already be cancelled (a timeout, a shutdown).
const SettleTimeout = time.Minute

// runningCacheMax bounds the workflows Middleware remembers as running.
const runningCacheMax = 10_000

// Middleware is the River worker middleware that turns ordinary River
// workers into workflow nodes; see flow.Client.Middleware for what it does.
type Middleware struct {
	river.MiddlewareDefaults
	env *Env

	// runningMu guards running: workflows this process has already moved
	// from pending to running, so that only the first job of a workflow
	// pays for that update. Losing it costs one no-op UPDATE.
	runningMu sync.Mutex
	running   map[string]struct{}
}

var _ rivertype.WorkerMiddleware = (*Middleware)(nil)

// NewMiddleware returns the middleware of a process.
func NewMiddleware(env *Env) *Middleware {
	return &Middleware{env: env, running: map[string]struct{}{}}
}

// Work runs one job: jobs that are not part of a workflow pass through.
func (m *Middleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var (
		call *heldCall
		// completed is set once the job's completion committed in our own
		// transaction: River's completer has nothing left to write, so the
		// held set need not keep the job after Work returns.
		completed bool
	)
	if h := m.env.Held; h != nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		call = h.start(job.ID, riverjob.Holder(job), cancel)
		defer func() { h.finish(call, !completed) }()
	}
	meta, ok := riverjob.ParseMeta(job.Metadata)
	if !ok {
		return doInner(ctx)
	}
	if err := m.markRunning(ctx, meta.Workflow); err != nil {
		return err
	}
	run := &Run{Env: m.env, Job: job, Meta: meta}
	if meta.RateKey != "" && meta.RateLimit > 0 && meta.RatePerMS > 0 {
		if err := m.rateGate(ctx, run); err != nil {
			return err
		}
	}
	ctx = context.WithValue(ctx, runKey{}, run)

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
	if call != nil && m.env.Held.handedOn(call) {
		// The fleet handed this job to another worker: record nothing, and
		// return only once River's write of this stale attempt can no
		// longer land on the new owner's run.
		m.awaitHandback(ctx, job)
		return fmt.Errorf("node %s: %w", meta.Path, ErrDeclaredDead)
	}
	if timeout > 0 && nodeTimedOut(workCtx, nodeDeadline) {
		if err == nil {
			err = ErrTimeout
		}
		err = fmt.Errorf("node %s timed out after %s: %w", meta.Path, timeout, err)
	}

	if err == nil {
		if done, stats := run.completed(); done {
			observe.Report(m.env.Observer, stats)
			completed = true
			return nil
		}
		if err = m.env.Completer.Complete(ctx, run); err == nil {
			completed = true
			return nil
		}
		// A refused completion (an output over the limit, say) is the
		// attempt's failure: on the last attempt the node fails below.
	}
	if isFinalFailure(job, err) {
		m.fail(ctx, run, err)
	}
	return err
}

// fail records the node of a job that failed for good, and what follows
// from it, and sets the job final (discarded, or cancelled for
// river.JobCancel) as River would, in one transaction: nobody sees the
// node final and its job still running, and a crash cannot leave the job
// to the sweep. River's own update of the job after Work returns is then a
// no-op.
func (m *Middleware) fail(ctx context.Context, run *Run, err error) {
	state, jobState := flowtype.NodeFailed, rivertype.JobStateDiscarded
	if errors.Is(err, &river.JobCancelError{}) {
		state, jobState = flowtype.NodeCancelled, rivertype.JobStateCancelled
	}
	dbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SettleTimeout)
	defer cancel()
	var stats observe.Stats
	txErr := dbtx.RunDurable(dbCtx, m.env.Pool, m.env.Logger, "fail node "+run.Meta.Path, func(tx pgx.Tx) error {
		if err2 := riverjob.FinalizeFailedTx(dbCtx, tx, run.Job.ID, riverjob.Holder(run.Job), jobState, run.Job.Attempt, err.Error()); err2 != nil {
			return err2
		}
		var err2 error
		_, stats, err2 = release.FinishTx(dbCtx, tx, m.env.Inserter, []release.Outcome{run.Outcome(state, err.Error())})
		return err2
	})
	if txErr != nil {
		m.env.Logger.ErrorContext(ctx, "flow: record node failure; the reconciler will settle it",
			slog.String("node", run.Meta.Path), slog.String("workflow", run.Meta.Workflow), slog.String("err", txErr.Error()))
		return
	}
	observe.Report(m.env.Observer, stats)
}

// awaitHandback waits until job, handed to another worker, is final.
// River's completer writes a job's outcome wherever the job is running,
// whoever runs it, and it writes a moment after Work returns: were this
// stale attempt to return while the job waits for its new owner or runs
// under it, River's write could land on the new run. Once the job is final,
// River's write of this attempt changes nothing. The wait is bounded by
// HandbackWaitMax: a job its new owner has not finished by then is left to
// River (and may then be run once more).
func (m *Middleware) awaitHandback(ctx context.Context, job *rivertype.JobRow) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), HandbackWaitMax)
	defer cancel()
	for {
		if final, err := riverjob.Final(ctx, m.env.Pool, job.ID); err == nil && final {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// markRunning moves a workflow from pending to running the first time this
// process sees one of its jobs start.
func (m *Middleware) markRunning(ctx context.Context, wf string) error {
	m.runningMu.Lock()
	_, seen := m.running[wf]
	m.runningMu.Unlock()
	if seen {
		return nil
	}
	if _, err := m.env.Pool.Exec(ctx, `
UPDATE qf_workflow SET status = 'running', started_at = now()
WHERE id = $1 AND status = 'pending'`, wf); err != nil {
		return fmt.Errorf("mark workflow %s running: %w", wf, err)
	}
	m.runningMu.Lock()
	if len(m.running) >= runningCacheMax {
		clear(m.running)
	}
	m.running[wf] = struct{}{}
	m.runningMu.Unlock()
	return nil
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

// isFinalFailure reports whether the job's node fails for good with err:
// the attempts are used up, the job cancelled itself, or the error is
// permanent (flow.Permanent; the middleware then discards the job itself,
// so River's retry of it finds the job no longer running and does
// nothing).
func isFinalFailure(job *rivertype.JobRow, err error) bool {
	if errors.Is(err, &river.JobCancelError{}) || isPermanent(err) {
		return true
	}
	var snooze *river.JobSnoozeError
	if errors.As(err, &snooze) {
		return false
	}
	return job.Attempt >= job.MaxAttempts
}
