package flow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// TestCancelNode cancels a running leaf, a waiting one and a throttled
// one: each becomes cancelled, dependents follow their policy (cancel
// cascades, skip skips), the rest of the workflow completes its own way,
// and a throttled node's cancel frees nothing it did not hold.
func TestCancelNode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	ctx := context.Background()
	id := b.submitYAML(t, `
name: cancel-node
nodes:
  - {id: run, kind: sleep, args: {ms: 60000}}
  - {id: after-run, kind: noop, deps: [run]}
  - {id: gate, kind: hold, args: {key: cn-gate}}
  - {id: wait, kind: noop, deps: [gate]}
  - {id: skipper, kind: noop, deps: [wait], on_dep_failure: skip}
  - {id: other, kind: noop}
  - {id: slot, kind: hold, args: {key: cn-slot}, concurrency: {key: cn, limit: 1}}
  - {id: queued, kind: noop, concurrency: {key: cn, limit: 1}}
`)
	b.waitNodeState(t, id, "run", "running")
	b.waitNodeState(t, id, "slot", "running")
	b.waitNodeState(t, id, "queued", "throttled")

	res, err := b.client.CancelNode(ctx, id, "run")
	require.NoError(t, err)
	require.Equal(t, 1, res.Jobs)
	_, err = b.client.CancelNode(ctx, id, "wait")
	require.NoError(t, err)
	_, err = b.client.CancelNode(ctx, id, "queued")
	require.NoError(t, err)

	_, err = b.client.CancelNode(ctx, id, "run")
	require.ErrorIs(t, err, flow.ErrNodeFinished)
	_, err = b.client.CancelNode(ctx, id, "nosuch")
	require.ErrorIs(t, err, flow.ErrNotFound)

	// gate first: once slot completes, every sink is final (wait, gate's
	// only dependent, was cancelled), and the workflow is decided even if
	// gate still runs (docs/ARCHITECTURE.md, "Known limits").
	b.gates.open("cn-gate")
	b.waitNodeState(t, id, "gate", "completed")
	b.gates.open("cn-slot")
	st := b.waitFinished(t, id, time.Minute)
	require.Equal(t, "failed", string(st.Status), "nodes: %v", nodeStates(st))
	require.Equal(t, map[string]string{
		"run": "cancelled", "after-run": "cancelled",
		"gate": "completed", "wait": "cancelled", "skipper": "skipped",
		"other": "completed", "slot": "completed", "queued": "cancelled",
	}, nodeStates(st))
	var held int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT held FROM qf_concurrency WHERE key = 'cn'`).Scan(&held))
	require.Zero(t, held, "cancelling a throttled node gives back no slot it did not hold")
}
