package flow_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// whyOf returns Why's entry for one node, failing when there is none.
func whyOf(t *testing.T, b *testBundle, id, path string) flow.WhyNode {
	t.Helper()
	rep, err := b.client.Why(context.Background(), id, "")
	require.NoError(t, err)
	for _, n := range rep.Nodes {
		if n.ID == path {
			return n
		}
	}
	t.Fatalf("why %s: no entry for %s in %+v", id, path, rep.Nodes)
	return flow.WhyNode{}
}

func TestWhyDeps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: why-deps
nodes:
  - {id: a, kind: hold, args: {key: why-deps}}
  - {id: b, kind: noop, deps: [a]}
  - id: g
    deps: [b]
    nodes: [{id: m, kind: noop}]
`)
	b.waitNodeState(t, id, "a", "running")
	n := whyOf(t, b, id, "b")
	require.Equal(t, flow.WhyDeps, n.Reason)
	require.Equal(t, "waiting for a (enqueued)", n.Detail)
	m := whyOf(t, b, id, "g/m")
	require.Equal(t, flow.WhyDeps, m.Reason)
	require.Contains(t, m.Detail, "its group g has not started")

	rep, err := b.client.Why(context.Background(), id, "g")
	require.NoError(t, err)
	require.Len(t, rep.Nodes, 2, "PATH limits the report to its subtree")
	_, err = b.client.Why(context.Background(), id, "nosuch")
	require.ErrorIs(t, err, flow.ErrNotFound)

	raw, err := json.Marshal(rep)
	require.NoError(t, err)
	var shape map[string]any
	require.NoError(t, json.Unmarshal(raw, &shape))
	require.ElementsMatch(t, []string{"id", "nodes"}, keysOf(shape))
	require.ElementsMatch(t, []string{"id", "state", "reason", "detail"}, keysOf(shape["nodes"].([]any)[0].(map[string]any)))
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWhyThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	holder := b.submitYAML(t, "name: holder\nnodes: [{id: h, kind: hold, args: {key: why-t}, concurrency: {key: gpu, limit: 1}}]\n")
	b.waitNodeState(t, holder, "h", "running")
	id := b.submitYAML(t, "name: waiter\nnodes: [{id: w, kind: noop, concurrency: {key: gpu, limit: 1}}]\n")
	n := whyOf(t, b, id, "w")
	require.Equal(t, flow.WhyThrottled, n.Reason)
	require.Equal(t, "throttled", string(n.State))
	require.Equal(t, `concurrency key "gpu": 1 of 1 slots held by `+holder+`:h; 1 waiting`, n.Detail)
}

func TestWhyRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: why-rate
defaults: {rate: {key: slow-api, limit: 1, per: 1m}}
nodes:
  - {id: a, kind: noop}
  - {id: b, kind: noop}
`)
	var n flow.WhyNode
	require.Eventually(t, func() bool {
		rep, err := b.client.Why(context.Background(), id, "")
		require.NoError(t, err)
		for _, x := range rep.Nodes {
			if x.Reason == flow.WhyRateLimited {
				n = x
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond)
	require.True(t, strings.HasPrefix(n.Detail, `rate key "slow-api": next start at `), n.Detail)
	at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(n.Detail, `rate key "slow-api": next start at `))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Minute), at, 10*time.Second)
}

func TestWhyPaused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	ctx := context.Background()
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	id := b.submitYAML(t, "name: why-paused\nnodes:\n  - {id: a, kind: noop, not_before: \""+later+"\"}\n")
	_, err := b.client.Pause(ctx, flow.PauseTarget{Workflow: id})
	require.NoError(t, err)
	n := whyOf(t, b, id, "a")
	require.Equal(t, flow.WhyPaused, n.Reason)
	require.Equal(t, "workflow is paused", n.Detail)

	_, err = b.client.Pause(ctx, flow.PauseTarget{Kind: "echo"})
	require.NoError(t, err)
	k := b.submitYAML(t, "name: why-kind\nnodes: [{id: e, kind: echo}]\n")
	n = whyOf(t, b, k, "e")
	require.Equal(t, flow.WhyPaused, n.Reason)
	require.Equal(t, `kind "echo" is paused`, n.Detail)
}

func TestWhyScheduled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	id := b.submitYAML(t, "name: why-sched\nnodes:\n  - {id: a, kind: noop, not_before: \""+at.Format(time.RFC3339)+"\"}\n")
	n := whyOf(t, b, id, "a")
	require.Equal(t, flow.WhyScheduled, n.Reason)
	require.Equal(t, "scheduled", string(n.State))
	require.Equal(t, "scheduled for "+at.Format(time.RFC3339Nano), n.Detail)
}

func TestWhyNoWorker(t *testing.T) {
	t.Parallel()
	b := setup(t) // no worker at all: no live member serves any queue
	id := b.submitYAML(t, "name: why-nobody\nnodes: [{id: a, kind: noop, queue: gpu}]\n")
	n := whyOf(t, b, id, "a")
	require.Equal(t, flow.WhyNoWorker, n.Reason)
	require.Equal(t, `no live worker serves queue "gpu"`, n.Detail)
}
