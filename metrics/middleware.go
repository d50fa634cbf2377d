package metrics

import (
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
	mw.m.observeJob(job.Kind, outcomeOf(err), time.Since(start))
	return err
}

// outcomeOf classifies the error Work returned.
func outcomeOf(err error) string {
	var cancelErr *rivertype.JobCancelError
	var snoozeErr *rivertype.JobSnoozeError
	switch {
	case err == nil:
		return OutcomeCompleted
	case errors.As(err, &cancelErr):
		return OutcomeCancelled
	case errors.As(err, &snoozeErr):
		return OutcomeSnoozed
	default:
		return OutcomeErrored
	}
}
