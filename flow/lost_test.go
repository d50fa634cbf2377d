package flow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
)

// TestMemberHandsBackJobsItNeverReceived: a job whose fetch committed under
// a live worker that never got it (the COMMIT acknowledgement was lost) is
// running under that worker's ID forever, since the worker heartbeats. The
// worker's member hands it back within seconds because its process does
// not run it; the job then runs once and the workflow completes. A job the
// process does run (the sleep) is left alone however long it takes.
func TestMemberHandsBackJobsItNeverReceived(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	rc := b.startWorker(t, 4)
	m, err := b.client.NewMember(flow.MemberConfig{ID: rc.ID(), HeartbeatInterval: 50 * time.Millisecond, DeadAfter: 300 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, m.Join(ctx))
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go m.Run(runCtx) //nolint:errcheck

	// lost's job waits in a queue nobody works; then it is made to look
	// fetched by this worker 10 s ago, as a fetch whose commit the worker
	// never heard of would leave it.
	id := b.submitYAML(t, `
name: lost
nodes:
  - {id: lost, kind: echo, queue: nobody, max_attempts: 3}
  - {id: slow, kind: sleep, args: {ms: 4500}}
  - {id: after, kind: noop, deps: [lost, slow]}
`)
	tag, err := b.db.Pool.Exec(ctx, `
UPDATE river_job SET state = 'running', queue = 'default', attempt = 1,
       attempted_at = now() - interval '10 seconds', attempted_by = ARRAY[$2]
WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', 'lost')`, id, rc.ID())
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())

	st := b.waitFinished(t, id, 30*time.Second)
	require.Equal(t, flowtype.WorkflowCompleted, st.Status)
	lost := nodeByID(t, st, "lost")
	require.Equal(t, 2, lost.Attempts, "the lost attempt counts, as a dead worker's does")
	slow := nodeByID(t, st, "slow")
	require.Equal(t, 1, slow.Attempts, "a job the worker runs is never handed back")

	var errs []string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT array_agg(e->>'error') FROM river_job, unnest(errors) e
WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', 'lost')`, id).Scan(&errs))
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], "never received this job")

	// slow ran once, on one attempt, and was never handed back.
	var attempt, holders, errCount int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT attempt, cardinality(attempted_by), coalesce(cardinality(errors), 0) FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', 'slow')`, id).Scan(&attempt, &holders, &errCount))
	require.Equal(t, []int{1, 1, 0}, []int{attempt, holders, errCount}, "slow: attempt, attempted_by, errors")
}
