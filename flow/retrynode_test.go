package flow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// TestRetryNode reruns one failed leaf of a failed workflow: the leaf and
// the dependent its failure cancelled run again, the other failed branch
// stays failed (so the workflow fails again), completed nodes are not
// rerun; then retrying the other branch completes the workflow.
func TestRetryNode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	ctx := context.Background()
	b.failing.Store("rn-a", true)
	b.failing.Store("rn-c", true)
	id := b.submitYAML(t, `
name: retry-node
defaults: {max_attempts: 1}
nodes:
  - {id: ok, kind: noop}
  - {id: a, kind: flaky, args: {key: rn-a}}
  - {id: b, kind: noop, deps: [a, ok]}
  - {id: c, kind: flaky, args: {key: rn-c}}
  - {id: join, kind: noop, deps: [b, c]}
`)
	st := b.waitFinished(t, id, time.Minute)
	require.Equal(t, "failed", string(st.Status))
	require.Equal(t, "cancelled", nodeStates(st)["b"])
	okJob := *nodeByID(t, st, "ok").JobID

	_, err := b.client.RetryNode(ctx, id, "b")
	require.ErrorIs(t, err, flow.ErrNodeNotRetryable, "b was cancelled because a failed: retry a")
	_, err = b.client.RetryNode(ctx, id, "ok")
	require.ErrorIs(t, err, flow.ErrNodeNotRetryable)

	b.failing.Delete("rn-a")
	res, err := b.client.RetryNode(ctx, id, "a")
	require.NoError(t, err)
	require.Equal(t, 3, res.Nodes, "a, b and join")
	require.Equal(t, 1, res.Jobs)
	st = b.waitFinished(t, id, time.Minute)
	require.Equal(t, "failed", string(st.Status), "c is still failed")
	require.Equal(t, map[string]string{"ok": "completed", "a": "completed", "b": "completed", "c": "failed", "join": "cancelled"}, nodeStates(st))
	require.Equal(t, okJob, *nodeByID(t, st, "ok").JobID, "a completed node is not rerun")

	b.failing.Delete("rn-c")
	_, err = b.client.RetryNode(ctx, id, "c")
	require.NoError(t, err)
	st = b.waitFinished(t, id, time.Minute)
	require.Equal(t, "completed", string(st.Status))
	require.Equal(t, "completed", nodeStates(st)["join"])
}
