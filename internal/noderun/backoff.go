package noderun

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// PermanentError marks a job's error as final: the node fails at once,
// whatever attempts it has left. flow.Permanent returns one.
type PermanentError struct {
	Err error
}

func (e *PermanentError) Error() string {
	if e.Err == nil {
		return "permanent failure"
	}
	return e.Err.Error()
}

func (e *PermanentError) Unwrap() error { return e.Err }

// isPermanent reports whether err is, or wraps, a *PermanentError.
func isPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryPolicy is the River client's retry policy with the nodes' own
// backoff: a job whose node sets retry (metadata qf_rt) is retried after
// Backoff's delay for the attempt that failed; any other job after
// Fallback's (River's default when nil).
type RetryPolicy struct {
	Fallback river.ClientRetryPolicy
}

var _ river.ClientRetryPolicy = (*RetryPolicy)(nil)

// NextRetry implements river.ClientRetryPolicy.
func (p *RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	if meta, ok := riverjob.ParseMeta(job.Metadata); ok && len(meta.Retry) > 0 {
		var rp riverjob.RetryPolicy
		if json.Unmarshal(meta.Retry, &rp) == nil && rp.BaseMS > 0 {
			return time.Now().Add(Backoff(rp, job.Attempt, rand.Float64))
		}
	}
	if p.Fallback != nil {
		return p.Fallback.NextRetry(job)
	}
	return (&river.DefaultClientRetryPolicy{}).NextRetry(job)
}

// Backoff is the delay before the attempt after attempt (1 for the first):
// base for constant, base·2^(attempt-1) for exponential, at most max when
// set; with jitter, uniformly in [d/2, d] (random returns [0, 1)).
func Backoff(p riverjob.RetryPolicy, attempt int, random func() float64) time.Duration {
	base := time.Duration(p.BaseMS) * time.Millisecond
	d := base
	if p.Backoff == "exponential" {
		for i := 1; i < attempt && d < 24*time.Hour; i++ {
			d *= 2
		}
	}
	if p.MaxMS > 0 {
		d = min(d, time.Duration(p.MaxMS)*time.Millisecond)
	}
	if p.Jitter {
		d = d/2 + time.Duration(random()*float64(d/2))
	}
	return d
}
