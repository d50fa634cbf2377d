package flow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFanInRace runs 1 -> N -> 1 on several River clients at once, so that
// parents finish concurrently on different connections, and checks every
// time that the join was released exactly once (one job, one completion)
// and never before all of its parents completed. Without the row lock on the
// join's counter, concurrent decrements would lose updates and the join
// would never run; without the zero test in the same statement, it would be
// released more than once; released one parent early, it would start while
// the straggler parent still sleeps.
func TestFanInRace(t *testing.T) {
	t.Parallel()

	const (
		rounds  = 3
		parents = 1000
		clients = 3
	)
	ctx := context.Background()
	b := setup(t)
	for i := 0; i < clients; i++ {
		b.startWorker(t, 40)
	}
	var spec strings.Builder
	spec.WriteString("name: fanin\nnodes:\n  - {id: root, kind: noop}\n")
	deps := make([]string, parents)
	for i := 0; i < parents; i++ {
		// One straggler: a join released before its last parent completed
		// would start while the straggler still sleeps, which the checks
		// below see whatever the timing of the other parents.
		kind := "kind: noop"
		if i == parents-1 { // fetched last: River fetches in id order
			kind = "kind: sleep, args: {ms: 300}"
		}
		fmt.Fprintf(&spec, "  - {id: p%d, %s, deps: [root]}\n", i, kind)
		deps[i] = fmt.Sprintf("p%d", i)
	}
	fmt.Fprintf(&spec, "  - {id: join, kind: echo, deps: [%s]}\n", strings.Join(deps, ", "))

	for round := 0; round < rounds; round++ {
		id := b.submitYAML(t, spec.String())
		st := b.waitFinished(t, id, 3*time.Minute)
		require.EqualValues(t, "completed", st.Status, "round %d", round)

		var jobs, completedJobs int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE state = 'completed') FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', 'join')`, id).Scan(&jobs, &completedJobs))
		require.Equal(t, 1, jobs, "round %d: join released %d times", round, jobs)
		require.Equal(t, 1, completedJobs, "round %d", round)

		// The join's job started after the last parent's job completed
		// (River's own timestamps), and its node after every parent node.
		var early int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
WITH j AS (SELECT * FROM river_job WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', 'join'))
SELECT count(*) FROM river_job p, j
WHERE p.metadata @> jsonb_build_object('qf_wf', $1::text) AND p.id <> j.id
  AND (p.finalized_at IS NULL OR p.finalized_at > j.attempted_at)`, id).Scan(&early))
		require.Zero(t, early, "round %d: join started before %d parents completed", round, early)

		var earlyNodes int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT count(*) FROM qf_node j JOIN qf_node p ON p.workflow_id = j.workflow_id AND p.idx = ANY (j.deps)
WHERE j.workflow_id = $1 AND j.path = 'join' AND p.finished_at > j.started_at`, id).Scan(&earlyNodes))
		require.Zero(t, earlyNodes, "round %d: join node started before %d parent nodes finished", round, earlyNodes)

		var nodes, done int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE state = 'completed') FROM qf_node WHERE workflow_id = $1`, id).Scan(&nodes, &done))
		require.Equal(t, parents+2, nodes)
		require.Equal(t, parents+2, done)
	}
}
