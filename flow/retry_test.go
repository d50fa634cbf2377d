package flow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// retryExpect is what one retry mode must do to a case's workflow.
type retryExpect struct {
	mode     flow.RetryMode
	kept     []string       // nodes whose job (and result) is kept
	rerun    []string       // nodes that existed before and ran again
	attempts map[string]int // node attempts after the retry
}

// TestRetryBeyondFlatGraphs fails a workflow through nodes whose flag is
// set, clears the flags and retries it in every mode: the workflow must
// complete with every node completed, the nodes the mode keeps keeping
// their jobs, the others running again with their attempts carried on.
func TestRetryBeyondFlatGraphs(t *testing.T) {
	t.Parallel()

	all := func(nodes ...string) retryExpect {
		return retryExpect{mode: flow.RetryAll, rerun: nodes}
	}
	tests := []struct {
		name      string
		spec      string
		failing   []string
		first     map[string]string // node states after the first run
		wantNodes int               // after the retry
		modes     []retryExpect
	}{
		{
			// Under failed-only, bad reruns alone: its only dependent (run
			// policy) keeps its result, so bad counts toward the workflow
			// (rollup_sink) although it has a dependent.
			name: "failed node with an on_dep_failure run dependent",
			spec: `
name: run-dep
nodes:
  - {id: a, kind: echo}
  - {id: bad, kind: flaky, args: {key: bad}, max_attempts: 1, deps: [a]}
  - {id: r, kind: echo, deps: [bad], on_dep_failure: run}
`,
			failing:   []string{"bad"},
			first:     map[string]string{"a": "completed", "bad": "failed", "r": "completed"},
			wantNodes: 3,
			modes: []retryExpect{
				{mode: flow.RetryFailedOnly, kept: []string{"a", "r"}, rerun: []string{"bad"}, attempts: map[string]int{"bad": 2, "r": 1}},
				{mode: flow.RetryFailedAndDownstream, kept: []string{"a"}, rerun: []string{"bad", "r"}, attempts: map[string]int{"bad": 2, "r": 2}},
				all("a", "bad", "r"),
			},
		},
		{
			name: "run dependent inside a group",
			spec: `
name: run-dep-group
nodes:
  - id: g
    nodes:
      - {id: bad, kind: flaky, args: {key: bad}, max_attempts: 1}
      - {id: r, kind: echo, deps: [bad], on_dep_failure: run}
  - {id: post, kind: echo, deps: [g]}
`,
			failing:   []string{"bad"},
			first:     map[string]string{"g": "failed", "g/bad": "failed", "g/r": "completed", "post": "cancelled"},
			wantNodes: 4,
			modes: []retryExpect{
				{mode: flow.RetryFailedOnly, kept: []string{"g/r"}, rerun: []string{"g/bad"}, attempts: map[string]int{"g/bad": 2, "post": 1}},
				{mode: flow.RetryFailedAndDownstream, rerun: []string{"g/bad", "g/r"}, attempts: map[string]int{"g/bad": 2, "g/r": 2}},
				all("g/bad", "g/r"),
			},
		},
		{
			name: "failed member of a group",
			spec: `
name: group
nodes:
  - {id: pre, kind: echo}
  - id: g
    deps: [pre]
    nodes:
      - {id: ok, kind: echo}
      - {id: bad, kind: flaky, args: {key: bad}, max_attempts: 1}
      - {id: after, kind: echo, deps: [bad]}
      - {id: r, kind: echo, deps: [bad], on_dep_failure: run}
  - {id: post, kind: echo, deps: [g]}
`,
			failing: []string{"bad"},
			first: map[string]string{"pre": "completed", "g": "failed", "g/ok": "completed", "g/bad": "failed",
				"g/after": "cancelled", "g/r": "completed", "post": "cancelled"},
			wantNodes: 7,
			modes: []retryExpect{
				{mode: flow.RetryFailedOnly, kept: []string{"pre", "g/ok", "g/r"}, rerun: []string{"g/bad"}, attempts: map[string]int{"g/bad": 2, "g/after": 1}},
				{mode: flow.RetryFailedAndDownstream, kept: []string{"pre", "g/ok"}, rerun: []string{"g/bad", "g/r"}, attempts: map[string]int{"g/bad": 2, "g/r": 2}},
				all("pre", "g/ok", "g/bad", "g/r"),
			},
		},
		{
			// failed-only keeps the expansion (scan acts as a group);
			// the other modes rerun scan, which expands afresh.
			name: "failed member of an expansion",
			spec: `
name: expanded
nodes:
  - {id: scan, kind: expandflaky, args: {child: child}}
  - {id: post, kind: echo, deps: [scan]}
`,
			failing:   []string{"child"},
			first:     map[string]string{"scan": "failed", "scan/ok": "completed", "scan/bad": "failed", "scan/after": "cancelled", "post": "cancelled"},
			wantNodes: 5,
			modes: []retryExpect{
				{mode: flow.RetryFailedOnly, kept: []string{"scan", "scan/ok"}, rerun: []string{"scan/bad"}, attempts: map[string]int{"scan": 1, "scan/bad": 2}},
				{mode: flow.RetryFailedAndDownstream, rerun: []string{"scan", "scan/ok", "scan/bad"}, attempts: map[string]int{"scan": 2, "scan/bad": 1}},
				all("scan", "scan/ok", "scan/bad"),
			},
		},
		{
			name: "expanding node fails before it expands",
			spec: `
name: expanding
nodes:
  - {id: scan, kind: expandflaky, args: {key: scan}, max_attempts: 1}
  - {id: post, kind: echo, deps: [scan]}
`,
			failing:   []string{"scan"},
			first:     map[string]string{"scan": "failed", "post": "cancelled"},
			wantNodes: 5,
			modes: []retryExpect{
				{mode: flow.RetryFailedOnly, rerun: []string{"scan"}, attempts: map[string]int{"scan": 2, "scan/bad": 1}},
				{mode: flow.RetryFailedAndDownstream, rerun: []string{"scan"}, attempts: map[string]int{"scan": 2}},
				all("scan"),
			},
		},
	}
	for _, tt := range tests {
		for _, want := range tt.modes {
			t.Run(fmt.Sprintf("%s, %s", tt.name, want.mode), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				b := setupWith(t, noReconciler(flow.Config{}))
				b.startWorker(t, 10)
				for _, k := range tt.failing {
					b.failing.Store(k, true)
				}
				id := b.submitYAML(t, tt.spec)
				first := b.waitFinishedOrStalled(t, id, time.Minute)
				require.EqualValues(t, "failed", first.Status)
				require.Equal(t, tt.first, nodeStates(first))

				for _, k := range tt.failing {
					b.failing.Delete(k)
				}
				_, err := b.client.Retry(ctx, id, want.mode)
				require.NoError(t, err)
				second := b.waitFinishedOrStalled(t, id, time.Minute)
				require.EqualValues(t, "completed", second.Status, "%v", nodeStates(second))
				require.Len(t, second.Nodes, tt.wantNodes, "%v", nodeStates(second))
				for _, n := range second.Nodes {
					require.EqualValues(t, "completed", n.State, n.ID)
				}
				for _, path := range want.kept {
					require.Equal(t, *nodeByID(t, first, path).JobID, *nodeByID(t, second, path).JobID, "%s kept its job", path)
				}
				for _, path := range want.rerun {
					before, after := nodeByID(t, first, path), nodeByID(t, second, path)
					require.NotNil(t, after.JobID, path)
					require.NotEqual(t, *before.JobID, *after.JobID, "%s ran again", path)
				}
				for path, n := range want.attempts {
					require.Equal(t, n, nodeByID(t, second, path).Attempts, "attempts of %s", path)
				}
				assertNothingToReconcile(t, b)

				_, err = b.client.Retry(ctx, id, want.mode)
				require.ErrorIs(t, err, flow.ErrNotRetryable)
			})
		}
	}
}
