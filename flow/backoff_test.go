package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// PermanentArgs are the args of the test kind "permanent": it fails with
// flow.Permanent on every attempt.
type PermanentArgs struct{}

func (PermanentArgs) Kind() string { return "permanent" }

type permanentWorker struct {
	river.WorkerDefaults[PermanentArgs]
}

func (*permanentWorker) Work(context.Context, *river.Job[PermanentArgs]) error {
	return flow.Permanent(errors.New("input is malformed"))
}

// attemptTimes returns, for a node's job, the times its failed attempts
// ended (River's errors[].at) and when its last attempt started.
func attemptTimes(t *testing.T, b *testBundle, wf, path string) (failedAt []time.Time, lastStart time.Time, state string) {
	t.Helper()
	var errs []json.RawMessage
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
SELECT errors, attempted_at, state FROM river_job
WHERE metadata->>'qf_wf' = $1 AND metadata->>'qf_path' = $2`, wf, path).Scan(&errs, &lastStart, &state))
	for _, e := range errs {
		var entry struct {
			At time.Time `json:"at"`
		}
		require.NoError(t, json.Unmarshal(e, &entry))
		failedAt = append(failedAt, entry.At)
	}
	return failedAt, lastStart, state
}

// TestRetryBackoff checks the spacing of a node's attempts from River's
// timestamps: exponential from 300 ms (300 ms, then 600 ms) and constant
// 400 ms, where the test worker's own policy would retry after 10 ms.
func TestRetryBackoff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: backoff
defaults:
  retry: {backoff: exponential, base: 300ms, max: 1m}
nodes:
  - {id: exp, kind: fail, args: {times: 2}}
  - {id: const, kind: fail, args: {times: 2}, retry: {backoff: constant, base: 400ms}}
  - {id: plain, kind: fail, args: {times: 2}, retry: {backoff: constant, base: 1ms}}
`)
	require.Equal(t, "completed", string(b.waitFinished(t, id, time.Minute).Status))

	failed, last, _ := attemptTimes(t, b, id, "exp")
	require.Len(t, failed, 2)
	// attempt 2 starts >= 300 ms after attempt 1 failed; attempt 3 >= 600 ms
	// after attempt 2 failed. Attempt 2's start is not kept, but it ended
	// after it started.
	require.GreaterOrEqual(t, failed[1].Sub(failed[0]), 300*time.Millisecond)
	require.GreaterOrEqual(t, last.Sub(failed[1]), 600*time.Millisecond)

	failed, last, _ = attemptTimes(t, b, id, "const")
	require.Len(t, failed, 2)
	require.GreaterOrEqual(t, failed[1].Sub(failed[0]), 400*time.Millisecond)
	require.GreaterOrEqual(t, last.Sub(failed[1]), 400*time.Millisecond)
	require.Less(t, last.Sub(failed[1]), 15*time.Second, "not River's attempt^4 default")
}

// TestPermanentFailureUsesOneAttempt: a job that returns flow.Permanent
// fails its node on the first of its five attempts, its job discarded, and
// its dependent is cancelled by policy.
func TestPermanentFailureUsesOneAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: permanent
nodes:
  - {id: p, kind: permanent, max_attempts: 5}
  - {id: after, kind: noop, deps: [p]}
`)
	st := b.waitFinished(t, id, time.Minute)
	require.Equal(t, "failed", string(st.Status))
	p := nodeByID(t, st, "p")
	require.Equal(t, "failed", string(p.State))
	require.Equal(t, 1, p.Attempts)
	require.Contains(t, *p.Error, "input is malformed")
	require.Equal(t, "cancelled", nodeStates(st)["after"])
	failed, _, state := attemptTimes(t, b, id, "p")
	require.Len(t, failed, 1)
	require.Equal(t, "discarded", state)
}
