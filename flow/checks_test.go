package flow_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// noReconciler is a Config whose reconciler never acts during a test: it
// runs once at start and then hourly, and leaves alone every job finalized
// within the last hour. Tests of the completion paths use it so that the
// reconciler cannot repair what they break; assertNothingToReconcile then
// shows it would have had nothing to do.
func noReconciler(cfg flow.Config) *flow.Config {
	cfg.ReconcileGrace = time.Hour
	cfg.ReconcileInterval = time.Hour
	return &cfg
}

// assertNothingToReconcile runs a reconciler without grace on the bundle's
// schema: every finalized job's node must already be settled.
func assertNothingToReconcile(t *testing.T, b *testBundle) {
	t.Helper()
	rec, err := flow.NewClient(b.db.Pool, &flow.Config{ReconcileGrace: time.Millisecond})
	require.NoError(t, err)
	res, err := rec.Reconcile(context.Background())
	require.NoError(t, err)
	require.Zero(t, res.Settled, "the reconciler had to settle nodes the middleware left unsettled")
}

// waitFinishedOrStalled is waitFinished that fails early, with the unsettled
// nodes, when the workflow stalls: not final while none of its jobs is left
// to run (all finalized) for a second.
func (b *testBundle) waitFinishedOrStalled(t *testing.T, id string, timeout time.Duration) *flow.WorkflowStatus {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var idleSince time.Time
	for {
		st, err := b.client.Status(ctx, id)
		require.NoError(t, err)
		switch st.Status {
		case "completed", "failed", "cancelled":
			return st
		}
		var live int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT count(*) FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text) AND finalized_at IS NULL`, id).Scan(&live))
		switch {
		case live > 0:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = time.Now()
		case time.Since(idleSince) > time.Second:
			unsettled := map[string]string{}
			for _, n := range st.Nodes {
				switch n.State {
				case "completed", "failed", "cancelled", "skipped":
				default:
					unsettled[n.ID] = string(n.State)
				}
			}
			t.Fatalf("workflow %s stalled (%s): every job finalized, yet these nodes are not final: %v", id, st.Status, unsettled)
		}
		if time.Now().After(deadline) {
			dump, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("workflow %s not finished after %s:\n%s", id, timeout, dump)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertReleasedOnceInOrder checks a finished workflow of leaves (no groups)
// on committed facts: every node that ran had exactly one River job, and no
// node's job started before every dep's job was finalized (River's
// timestamps), nor its node before every dep node finished. Jobs the test
// inserted itself are named in ignore.
func assertReleasedOnceInOrder(t *testing.T, b *testBundle, id string, ignore ...int64) {
	t.Helper()
	ctx := context.Background()
	if ignore == nil {
		ignore = []int64{} // not NULL: id <> ALL (NULL) matches nothing
	}
	var multi []string
	rows, err := b.db.Pool.Query(ctx, `
SELECT metadata->>'qf_path' FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text) AND id <> ALL ($2::bigint[])
GROUP BY metadata->>'qf_path' HAVING count(*) > 1`, id, ignore)
	require.NoError(t, err)
	for rows.Next() {
		var p string
		require.NoError(t, rows.Scan(&p))
		multi = append(multi, p)
	}
	require.NoError(t, rows.Err())
	require.Empty(t, multi, "nodes released more than once")

	var unjobbed int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT count(*) FROM qf_node n
WHERE n.workflow_id = $1::text::uuid AND n.kind IS NOT NULL AND n.state IN ('completed', 'failed')
  AND NOT EXISTS (SELECT 1 FROM river_job j
                  WHERE j.metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_n', n.idx))`, id).Scan(&unjobbed))
	require.Zero(t, unjobbed, "final leaves without a River job")

	var early int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `
WITH jobs AS (
    SELECT (metadata->>'qf_n')::int AS idx, attempted_at, finalized_at FROM river_job
    WHERE metadata @> jsonb_build_object('qf_wf', $1::text) AND id <> ALL ($2::bigint[])
)
SELECT count(*)
FROM qf_node c
JOIN qf_node p ON p.workflow_id = c.workflow_id AND p.idx = ANY (c.deps)
JOIN jobs cj ON cj.idx = c.idx
JOIN jobs pj ON pj.idx = p.idx
WHERE c.workflow_id = $1::text::uuid AND (pj.finalized_at IS NULL OR pj.finalized_at > cj.attempted_at)`, id, ignore).Scan(&early))
	require.Zero(t, early, "jobs started before one of their deps' jobs was finalized")

	var earlyNodes int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT count(*) FROM qf_node c JOIN qf_node p ON p.workflow_id = c.workflow_id AND p.idx = ANY (c.deps)
WHERE c.workflow_id = $1 AND c.started_at IS NOT NULL AND (p.finished_at IS NULL OR p.finished_at > c.started_at)`, id).Scan(&earlyNodes))
	require.Zero(t, earlyNodes, "nodes started before one of their deps finished")
}
