package flow_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
)

// StubbornArgs are the args of the test kind "stubborn": its first attempt
// runs until its context ends and records why; later attempts succeed.
type StubbornArgs struct{}

func (StubbornArgs) Kind() string { return "stubborn" }

type stubbornWorker struct {
	river.WorkerDefaults[StubbornArgs]
	mu      sync.Mutex
	started int     // first attempts that entered Work
	causes  []error // why each first attempt's context ended
}

func (w *stubbornWorker) Work(ctx context.Context, job *river.Job[StubbornArgs]) error {
	if job.Attempt > 1 {
		return nil
	}
	w.mu.Lock()
	w.started++
	w.mu.Unlock()
	<-ctx.Done()
	w.mu.Lock()
	w.causes = append(w.causes, context.Cause(ctx))
	w.mu.Unlock()
	return ctx.Err()
}

func (w *stubbornWorker) firstCause() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.causes) == 0 {
		return nil
	}
	return w.causes[0]
}

// TestWorkerDeclaredDeadRejoins: a live worker that the fleet declared dead
// (as after a pause longer than its dead_after) and whose job was handed
// back cancels that job at once, rejoins under a new id, runs the job again
// as its new owner, and the stale attempt overwrites nothing.
func TestWorkerDeclaredDeadRejoins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	stubborn := &stubbornWorker{}
	workers := river.NewWorkers()
	river.AddWorker(workers, stubborn)
	w, err := b.client.StartWorker(ctx, &flow.WorkerConfig{
		River: &river.Config{
			Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
			Workers: workers,
		},
		Kinds:             []string{StubbornArgs{}.Kind()},
		HeartbeatInterval: 50 * time.Millisecond,
		DeadAfter:         300 * time.Millisecond,
	})
	require.NoError(t, err)
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, w.StopAndCancel(stopCtx))
	}()
	oldID := w.ID()

	id := b.submitYAML(t, "name: rejoin\nnodes:\n  - {id: s, kind: stubborn, max_attempts: 3}\n")
	require.Eventually(t, func() bool {
		stubborn.mu.Lock()
		defer stubborn.mu.Unlock()
		return stubborn.started == 1
	}, waitLong, 10*time.Millisecond, "the job never started")

	// What another member's sweep does to a worker whose heartbeat went
	// stale: declare it dead and make its running job available again.
	// A sweep makes it available at once; this worker is alive, though,
	// and could fetch the job again itself in the moment before its next
	// heartbeat tells it that it was declared dead (at least once: that
	// attempt would change nothing either, but would run under the old
	// id, and under load it did, 4 runs in 40). The job waits a second
	// here, so that it is the rejoined worker that runs it.
	_, err = b.db.Pool.Exec(ctx, `UPDATE qf_worker SET dead_at = now() WHERE id = $1`, oldID)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now() + interval '1 second'
WHERE metadata @> jsonb_build_object('qf_wf', $1::text) AND state = 'running'`, id)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return stubborn.firstCause() != nil }, 5*time.Second, 10*time.Millisecond,
		"the stale attempt was not cancelled")
	require.ErrorIs(t, stubborn.firstCause(), flow.ErrDeclaredDead)

	st := b.waitFinished(t, id, waitLong)
	require.Equal(t, flowtype.WorkflowCompleted, st.Status)
	require.NotEqual(t, oldID, w.ID(), "the worker rejoined under a new id")
	s := nodeByID(t, st, "s")
	require.Equal(t, 2, s.Attempts)

	// The new owner's completion stands: the stale attempt, which returned
	// only after it, changed nothing.
	var state string
	var by []string
	require.Eventually(t, func() bool {
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT state::text, attempted_by FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text)`, id).Scan(&state, &by))
		return state == "completed"
	}, waitLong, 20*time.Millisecond, "job state %s", state)
	require.Equal(t, []string{oldID, w.ID()}, by)
	var oldDead, newLive bool
	require.Eventually(t, func() bool {
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT
  (SELECT dead_at IS NOT NULL FROM qf_worker WHERE id = $1),
  (SELECT dead_at IS NULL FROM qf_worker WHERE id = $2)`, oldID, w.ID()).Scan(&oldDead, &newLive))
		return oldDead && newLive
	}, waitLong, 20*time.Millisecond, "old id left (%v), new id live (%v)", oldDead, newLive)
	require.False(t, errors.Is(context.Cause(ctx), flow.ErrDeclaredDead))
}
