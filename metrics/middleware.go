package metrics

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// workerMiddleware is the River worker middleware returned by
// Metrics.Middleware.
type workerMiddleware struct {
	river.MiddlewareDefaults
	m *Metrics
}

// Work runs doInner and records its outcome and duration. A panic is counted
// without being recovered: it goes on unwinding to River's own recovery,
// which then records the original panic value and stack trace.
func (mw *workerMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	mw.m.observeStart(job)
	running := mw.m.jobsRunning.WithLabelValues(job.Queue)
	running.Inc()
	start := time.Now()
	returned := false
	defer func() {
		running.Dec()
		if !returned {
			// doInner panicked (or called runtime.Goexit).
			mw.m.observeJob(job.Kind, OutcomePanicked, time.Since(start))
		}
	}()
	err := doInner(ctx)
	returned = true
	mw.m.observeJob(job.Kind, outcomeOf(ctx, err), time.Since(start))
	return err
}

// outcomeOf classifies the error Work returned the way River will treat
// it. ctx is the job's context as River made it: timeouts are set further
// in, so at this level it is cancelled only by River, either because the
// job was cancelled remotely (River then cancels the job whatever Work
// returned) or because the client is stopping (River then makes the job
// available again without counting the attempt, if Work returned the
// context's error).
func outcomeOf(ctx context.Context, err error) string {
	if err == nil {
		return OutcomeCompleted
	}
	if ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), rivertype.ErrJobCancelledRemotely) {
			return OutcomeCancelled
		}
		if errors.Is(err, context.Canceled) {
			return OutcomeInterrupted
		}
	}
	if _, ok := errors.AsType[*rivertype.JobCancelError](err); ok {
		return OutcomeCancelled
	}
	if _, ok := errors.AsType[*rivertype.JobSnoozeError](err); ok {
		return OutcomeSnoozed
	}
	return OutcomeErrored
}

// wfKey is the metadata key of a workflow node's job (riverjob.Meta).
var wfKey = []byte(`"qf_wf"`)

// observeStart records how long job waited: from scheduled_at to
// attempted_at at every attempt, and, for a workflow node's first attempt,
// from created_at (its release) to attempted_at. All three times come from
// the database's clock, so there is no skew between hosts.
func (m *Metrics) observeStart(job *rivertype.JobRow) {
	if job.AttemptedAt == nil {
		return
	}
	at := *job.AttemptedAt
	if !job.ScheduledAt.IsZero() {
		m.jobWait.WithLabelValues(job.Queue).Observe(max(at.Sub(job.ScheduledAt), 0).Seconds())
	}
	// A cheap check instead of parsing the metadata: only QuantumFlow's
	// node jobs carry the key.
	if job.Attempt <= 1 && !job.CreatedAt.IsZero() && bytes.Contains(job.Metadata, wfKey) {
		m.nodePromotion.WithLabelValues(job.Queue).Observe(max(at.Sub(job.CreatedAt), 0).Seconds())
	}
}
