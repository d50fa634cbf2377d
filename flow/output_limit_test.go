package flow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
)

// TestOutputOverLimitIsRefused: an output over dag.MaxOutputBytes, set with
// flow.SetOutput ("big") or recorded with River's RecordOutput
// ("bigrecord"), is refused on the per-node path and on the batched path:
// the node fails (its only attempt) with an error naming the limit, stores
// no output, and releases nothing — its dependent is cancelled without a
// job. The reconciler is kept out of the way: the middleware must do it.
func TestOutputOverLimitIsRefused(t *testing.T) {
	t.Parallel()
	limit := fmt.Sprintf("limit %d", dag.MaxOutputBytes)
	for _, kind := range []string{"big", "bigrecord"} {
		for _, batchMax := range []int{1, flow.CompletionBatchMaxDefault} {
			t.Run(fmt.Sprintf("%s, batch max %d", kind, batchMax), func(t *testing.T) {
				t.Parallel()
				b := setupWith(t, noReconciler(flow.Config{CompletionBatchMax: batchMax}))
				b.startWorker(t, 4)
				id := b.submitYAML(t, fmt.Sprintf(`
name: too-big
nodes:
  - {id: src, kind: %s, max_attempts: 1}
  - {id: after, kind: echo, deps: [src]}
  - {id: fine, kind: noop}
`, kind))
				st := b.waitFinishedOrStalled(t, id, time.Minute)
				require.EqualValues(t, "failed", st.Status)
				src := nodeByID(t, st, "src")
				require.EqualValues(t, "failed", src.State)
				require.NotNil(t, src.Error)
				require.Contains(t, *src.Error, "output too large")
				require.Contains(t, *src.Error, limit)
				require.Empty(t, src.Output)
				require.EqualValues(t, "cancelled", nodeByID(t, st, "after").State)
				require.EqualValues(t, "completed", nodeByID(t, st, "fine").State)
				require.Zero(t, jobsOf(t, b, id, "after"), "the refused node released its dependent")
				var stored *int
				require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
SELECT octet_length(output::text) FROM qf_node WHERE workflow_id = $1 AND path = 'src'`, id).Scan(&stored))
				require.Nil(t, stored, "the refused output was stored")
				assertNothingToReconcile(t, b)
			})
		}
	}
}
