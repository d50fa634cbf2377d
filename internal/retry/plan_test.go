package retry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flowtype"
)

// tnode describes one node of a test graph: its path, whether it is a leaf
// (kind "k"; "x" marks an expanded leaf), its deps by sibling id, and its
// state.
type tnode struct {
	path  string
	kind  string // "" for a group
	deps  []string
	state flowtype.NodeState
}

// build makes a Graph from nodes listed parents first, as qf_node stores
// them (index order).
func build(t *testing.T, nodes []tnode) *Graph {
	t.Helper()
	g := &Graph{pos: map[int32]int{}}
	byPath := map[string]int32{}
	for i, tn := range nodes {
		n := Node{idx: int32(i), parent: -1, path: tn.path, state: tn.state}
		if tn.kind != "" {
			k := tn.kind
			n.kind = &k
		}
		parentPath := ""
		if j := strings.LastIndexByte(tn.path, '/'); j >= 0 {
			parentPath = tn.path[:j]
			p, ok := byPath[parentPath]
			require.True(t, ok, "parent of %s listed first", tn.path)
			n.parent = p
		}
		for _, d := range tn.deps {
			full := d
			if parentPath != "" {
				full = parentPath + "/" + d
			}
			di, ok := byPath[full]
			require.True(t, ok, "dep %s of %s listed first", full, tn.path)
			n.deps = append(n.deps, di)
		}
		byPath[tn.path] = int32(i)
		g.pos[int32(i)] = i
		g.nodes = append(g.nodes, n)
	}
	for i := range g.nodes {
		n := &g.nodes[i]
		for _, d := range n.deps {
			g.nodes[d].dependents = append(g.nodes[d].dependents, n.idx)
		}
		if n.parent >= 0 {
			g.nodes[n.parent].members = append(g.nodes[n.parent].members, n.idx)
		}
	}
	return g
}

// reset is the expected reset of one node, by path.
type reset struct {
	state                flowtype.NodeState
	remDeps, remChildren int32
	rerun, rollupSink    bool
}

const (
	waiting  = flowtype.NodeWaiting
	enqueued = flowtype.NodeEnqueued
	active   = flowtype.NodeActive
	done     = flowtype.NodeCompleted
	failed   = flowtype.NodeFailed
	cancel   = flowtype.NodeCancelled
	skipped  = flowtype.NodeSkipped
)

func TestPlanRetry(t *testing.T) {
	t.Parallel()
	// A group of a group: g/h/a failed, g/h/b cancelled after it, g/c
	// completed, and d after g cancelled.
	nested := []tnode{
		{"g", "", nil, failed},
		{"g/h", "", nil, failed},
		{"g/h/a", "k", nil, failed},
		{"g/h/b", "k", []string{"a"}, cancel},
		{"g/c", "k", nil, done},
		{"d", "k", []string{"g"}, cancel},
	}
	// a failed; r ran anyway (on_dep_failure: run) and completed; s was
	// skipped (on_dep_failure: skip); all inside group g.
	policies := []tnode{
		{"g", "", nil, failed},
		{"g/a", "k", nil, failed},
		{"g/r", "k", []string{"a"}, done},
		{"g/s", "k", []string{"a"}, skipped},
	}
	// a failed at the top level and its only dependent r ran anyway.
	runDependent := []tnode{
		{"a", "k", nil, failed},
		{"r", "k", []string{"a"}, done},
	}
	// x expanded into e0 (failed) and e1 (completed); y after x cancelled.
	expanded := []tnode{
		{"x", "x", nil, failed},
		{"x/e0", "k", nil, failed},
		{"x/e1", "k", nil, done},
		{"y", "k", []string{"x"}, cancel},
	}
	// a failed; group G after it ran anyway (on_dep_failure: run) and
	// completed, with its member m.
	runGroup := []tnode{
		{"a", "k", nil, failed},
		{"G", "", []string{"a"}, done},
		{"G/m", "k", nil, done},
	}
	// A cancelled workflow: a completed, g's b never ran.
	cancelled := []tnode{
		{"a", "k", nil, done},
		{"g", "", []string{"a"}, cancel},
		{"g/b", "k", nil, cancel},
	}

	tests := []struct {
		name      string
		nodes     []tnode
		mode      Mode
		want      map[string]reset
		enqueue   []string
		deleted   []string
		remaining int32
	}{
		{
			name: "nested groups, failed-only", nodes: nested, mode: FailedOnly,
			want: map[string]reset{
				"g":     {state: active, remChildren: 1},
				"g/h":   {state: active, remChildren: 1},
				"g/h/a": {state: enqueued, rerun: true},
				"g/h/b": {state: waiting, remDeps: 1, rerun: true},
				"d":     {state: waiting, remDeps: 1, rerun: true},
			},
			enqueue: []string{"g/h/a"}, remaining: 1,
		},
		{
			name: "nested groups, failed-and-downstream keeps a completed member that is not downstream", nodes: nested, mode: FailedAndDownstream,
			want: map[string]reset{
				"g":     {state: active, remChildren: 1},
				"g/h":   {state: active, remChildren: 1},
				"g/h/a": {state: enqueued, rerun: true},
				"g/h/b": {state: waiting, remDeps: 1, rerun: true},
				"d":     {state: waiting, remDeps: 1, rerun: true},
			},
			enqueue: []string{"g/h/a"}, remaining: 1,
		},
		{
			name: "a completed group downstream of a failure reruns whole", nodes: runGroup, mode: FailedAndDownstream,
			want: map[string]reset{
				"a":   {state: enqueued, rerun: true},
				"G":   {state: waiting, remDeps: 1, remChildren: 1},
				"G/m": {state: waiting, rerun: true},
			},
			enqueue: []string{"a"}, remaining: 1,
		},
		{
			name: "failed-only leaves a completed run-policy group alone", nodes: runGroup, mode: FailedOnly,
			want: map[string]reset{
				"a": {state: enqueued, rerun: true, rollupSink: true},
			},
			enqueue: []string{"a"}, remaining: 1,
		},
		{
			name: "skip and run policies inside a group, failed-only", nodes: policies, mode: FailedOnly,
			want: map[string]reset{
				"g":   {state: active, remChildren: 1},
				"g/a": {state: enqueued, rerun: true},
				"g/s": {state: waiting, remDeps: 1, rerun: true},
			},
			enqueue: []string{"g/a"}, remaining: 1,
		},
		{
			name: "a failed node whose dependents all keep their result counts as a sink", nodes: runDependent, mode: FailedOnly,
			want: map[string]reset{
				"a": {state: enqueued, rerun: true, rollupSink: true},
			},
			enqueue: []string{"a"}, remaining: 1,
		},
		{
			name: "all reruns the run-policy dependent too", nodes: runDependent, mode: All,
			want: map[string]reset{
				"a": {state: enqueued, rerun: true},
				"r": {state: waiting, remDeps: 1, rerun: true},
			},
			enqueue: []string{"a"}, remaining: 1,
		},
		{
			name: "an expanded node keeps its sub-DAG under failed-only", nodes: expanded, mode: FailedOnly,
			want: map[string]reset{
				"x":    {state: active, remChildren: 1},
				"x/e0": {state: enqueued, rerun: true},
				"y":    {state: waiting, remDeps: 1, rerun: true},
			},
			enqueue: []string{"x/e0"}, remaining: 1,
		},
		{
			name: "an expanded node that reruns loses its sub-DAG", nodes: expanded, mode: FailedAndDownstream,
			want: map[string]reset{
				"x": {state: enqueued, rerun: true},
				"y": {state: waiting, remDeps: 1, rerun: true},
			},
			enqueue: []string{"x"}, deleted: []string{"x/%"}, remaining: 1,
		},
		{
			name: "a cancelled group reruns from its first member", nodes: cancelled, mode: FailedOnly,
			want: map[string]reset{
				"g":   {state: active, remChildren: 1},
				"g/b": {state: enqueued, rerun: true},
			},
			enqueue: []string{"g/b"}, remaining: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := build(t, tt.nodes)
			p := g.PlanRetry(tt.mode)
			got := map[string]reset{}
			for i, idx := range p.idx {
				got[g.nodes[g.pos[idx]].path] = reset{
					state: p.state[i], remDeps: p.remainingDeps[i], remChildren: p.remainingChildren[i],
					rerun: p.rerun[i], rollupSink: p.rollupSink[i],
				}
			}
			require.Equal(t, tt.want, got)
			var enq []string
			for _, idx := range p.enqueue {
				enq = append(enq, g.nodes[g.pos[idx]].path)
			}
			require.Equal(t, tt.enqueue, enq)
			require.Equal(t, tt.deleted, p.deleteSubtrees)
			require.Equal(t, tt.remaining, p.workflowRemaining)
		})
	}
}

func TestPlanRetryNode(t *testing.T) {
	t.Parallel()
	F, C, OK := flowtype.NodeFailed, flowtype.NodeCancelled, flowtype.NodeCompleted
	g := build(t, []tnode{
		{"a", "k", nil, F},
		{"b", "k", []string{"a"}, C},
		{"c", "k", nil, F},
		{"join", "k", []string{"b", "c"}, C},
		{"g", "", nil, F},
		{"g/m1", "k", nil, F},
		{"g/m2", "k", nil, F},
		{"g/ok", "k", nil, OK},
	})
	at := func(p Plan, idx int32) int {
		for i, x := range p.idx {
			if x == idx {
				return i
			}
		}
		return -1
	}

	p, err := g.PlanRetryNode("a")
	require.NoError(t, err)
	require.ElementsMatch(t, []int32{0, 1, 3}, p.idx, "a, and what its failure cancelled")
	require.Equal(t, []int32{0}, p.enqueue)
	j := at(p, 3)
	require.Equal(t, int32(1), p.remainingDeps[j], "join waits for b again")
	require.Equal(t, int32(1), p.failedDeps[j], "and still sees c failed")
	require.Equal(t, int32(1), p.workflowRemaining)
	require.Equal(t, int32(2), p.workflowFailed, "c and g stay failed")

	p, err = g.PlanRetryNode("g/m1")
	require.NoError(t, err)
	require.ElementsMatch(t, []int32{4, 5}, p.idx, "the leaf and its group, not its failed sibling")
	gi := at(p, 4)
	require.Equal(t, flowtype.NodeActive, p.state[gi])
	require.Equal(t, int32(1), p.remainingChildren[gi])
	require.Equal(t, int32(1), p.failedChildren[gi], "m2 stays failed")
	require.Equal(t, int32(4), p.workflowFailed)

	for _, bad := range []string{"b", "g", "g/ok", "nosuch"} {
		_, err := g.PlanRetryNode(bad)
		require.ErrorIs(t, err, ErrNodeNotRetryable, bad)
	}
}
