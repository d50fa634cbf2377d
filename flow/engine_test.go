package flow_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const waitLong = 60 * time.Second

func TestDiamondOutputsFlowToDependents(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: diamond
input: {region: eu}
nodes:
  - {id: a, kind: echo, args: {n: 1}}
  - {id: b, kind: echo, args: {n: 2}, deps: [a]}
  - {id: c, kind: echo, args: {n: 3}, deps: [a]}
  - {id: d, kind: echo, args: {n: 4}, deps: [b, c]}
`)
	st := b.waitFinished(t, id, waitLong)
	require.EqualValues(t, "completed", st.Status)
	for _, n := range st.Nodes {
		require.EqualValues(t, "completed", n.State, n.ID)
		require.Equal(t, 1, n.Attempts, n.ID)
		require.NotNil(t, n.JobID, n.ID)
		require.NotNil(t, n.StartedAt, n.ID)
		require.NotNil(t, n.FinishedAt, n.ID)
	}
	d := nodeByID(t, st, "d")
	require.Equal(t, []string{"b", "c"}, d.Deps)
	var out struct {
		Args  map[string]int                           `json:"args"`
		Input map[string]string                        `json:"input"`
		Deps  map[string]struct{ Args map[string]int } `json:"deps"`
	}
	require.NoError(t, json.Unmarshal(d.Output, &out))
	require.Equal(t, map[string]int{"n": 4}, out.Args)
	require.Equal(t, map[string]string{"region": "eu"}, out.Input)
	require.Len(t, out.Deps, 2)
	require.Equal(t, 2, out.Deps["b"].Args["n"])
	require.Equal(t, 3, out.Deps["c"].Args["n"])

	// The workflow's output is the map of its sinks' outputs.
	var wfOut map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(st.Output, &wfOut))
	require.Len(t, wfOut, 1)
	require.JSONEq(t, string(d.Output), string(wfOut["d"]))

	// Child starts never precede parent completions (River's timestamps).
	var violations int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
SELECT count(*) FROM qf_node c
JOIN qf_node p ON p.workflow_id = c.workflow_id AND p.idx = ANY (c.deps)
WHERE c.workflow_id = $1 AND c.started_at < p.finished_at`, id).Scan(&violations))
	require.Zero(t, violations)
}

// TestDepOutputsListEveryCompletedDep: every completed dep is in its
// dependents' deps map, with null when it produced no output (noop), so a
// node that runs despite a failed dep (on_dep_failure: run) can tell
// "completed without output" from "failed"; failed and skipped deps are
// left out.
func TestDepOutputsListEveryCompletedDep(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.startWorker(t, 10)
	st := b.waitFinished(t, b.submitYAML(t, `
name: dep-outputs
nodes:
  - {id: quiet, kind: noop}
  - {id: loud, kind: echo, args: {n: 1}}
  - {id: bad, kind: fail, args: {times: -1}, max_attempts: 1}
  - {id: skipped, kind: echo, deps: [bad], on_dep_failure: skip}
  - {id: both, kind: echo, deps: [quiet, loud]}
  - {id: anyway, kind: echo, deps: [quiet, loud, bad, skipped], on_dep_failure: run}
`), waitLong)
	require.EqualValues(t, "failed", st.Status)
	require.Equal(t, map[string]string{
		"quiet": "completed", "loud": "completed", "bad": "failed", "skipped": "skipped",
		"both": "completed", "anyway": "completed",
	}, nodeStates(st))

	for _, id := range []string{"both", "anyway"} {
		var out struct {
			Deps map[string]json.RawMessage `json:"deps"`
		}
		require.NoError(t, json.Unmarshal(nodeByID(t, st, id).Output, &out), id)
		keys := make([]string, 0, len(out.Deps))
		for k := range out.Deps {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		require.Equal(t, []string{"loud", "quiet"}, keys, "%s: deps keys", id)
		require.JSONEq(t, "null", string(out.Deps["quiet"]), "%s: a dep without output", id)
		require.JSONEq(t, string(nodeByID(t, st, "loud").Output), string(out.Deps["loud"]), id)
	}
}

func TestHierarchyWithDepsOnGroups(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: three-levels
nodes:
  - {id: fetch, kind: echo}
  - id: outer
    deps: [fetch]
    nodes:
      - {id: first, kind: echo}
      - id: inner
        deps: [first]
        nodes:
          - {id: x, kind: echo}
          - {id: y, kind: echo, deps: [x]}
      - {id: last, kind: echo, deps: [inner]}
  - {id: report, kind: echo, deps: [outer]}
`)
	st := b.waitFinished(t, id, waitLong)
	require.EqualValues(t, "completed", st.Status)
	states := nodeStates(st)
	for _, path := range []string{"fetch", "outer", "outer/first", "outer/inner", "outer/inner/x", "outer/inner/y", "outer/last", "report"} {
		require.Equal(t, "completed", states[path], path)
	}
	// Order: every member starts after its group's deps finished, and a
	// group's dependents start after its last member finished.
	ts := map[string]*time.Time{}
	fin := map[string]*time.Time{}
	for _, n := range st.Nodes {
		ts[n.ID], fin[n.ID] = n.StartedAt, n.FinishedAt
	}
	require.True(t, !ts["outer/first"].Before(*fin["fetch"]))
	require.True(t, !ts["outer/inner/x"].Before(*fin["outer/first"]))
	require.True(t, !ts["outer/last"].Before(*fin["outer/inner/y"]))
	require.True(t, !ts["report"].Before(*fin["outer/last"]))

	// report sees the group's output: the map of its sink members' outputs.
	var out struct {
		Deps map[string]map[string]json.RawMessage `json:"deps"`
	}
	require.NoError(t, json.Unmarshal(nodeByID(t, st, "report").Output, &out))
	require.Contains(t, out.Deps["outer"], "last")
}

func TestDynamicExpansionNested(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: expand
nodes:
  - {id: scan, kind: expand, args: {depth: 3, width: 2}}
  - {id: after, kind: echo, deps: [scan]}
`)
	st := b.waitFinished(t, id, waitLong)
	require.EqualValues(t, "completed", st.Status)
	states := nodeStates(st)
	for _, path := range []string{
		"scan", "scan/e0", "scan/e1", "scan/deeper",
		"scan/deeper/e0", "scan/deeper/e1", "scan/deeper/deeper",
		"scan/deeper/deeper/e0", "scan/deeper/deeper/e1", "after",
	} {
		require.Equal(t, "completed", states[path], path)
	}
	require.Len(t, st.Nodes, 10)
	// after waited for the whole expanded sub-DAG, down to the last level.
	after := nodeByID(t, st, "after")
	for _, n := range st.Nodes {
		if n.ID != "after" {
			require.False(t, after.StartedAt.Before(*n.FinishedAt), "after started before %s finished", n.ID)
		}
	}
	// after receives scan's own output, not its sub-DAG's.
	var out struct {
		Deps map[string]map[string]int `json:"deps"`
	}
	require.NoError(t, json.Unmarshal(after.Output, &out))
	require.Equal(t, 3, out.Deps["scan"]["depth"])
}

func TestFailurePolicies(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		spec   string
		status string
		states map[string]string
	}{
		{
			name: "cancel cascades, independent branch goes on",
			spec: `
name: cancel
nodes:
  - {id: bad, kind: fail, args: {times: -1}, max_attempts: 2}
  - {id: child, kind: echo, deps: [bad]}
  - {id: grandchild, kind: echo, deps: [child]}
  - {id: other, kind: echo}
  - {id: other2, kind: echo, deps: [other]}
`,
			status: "failed",
			states: map[string]string{"bad": "failed", "child": "cancelled", "grandchild": "cancelled", "other": "completed", "other2": "completed"},
		},
		{
			name: "skip lets its dependents go on",
			spec: `
name: skip
nodes:
  - {id: bad, kind: fail, args: {times: -1}, max_attempts: 1}
  - {id: child, kind: echo, deps: [bad], on_dep_failure: skip}
  - {id: grandchild, kind: echo, deps: [child]}
`,
			status: "failed",
			states: map[string]string{"bad": "failed", "child": "skipped", "grandchild": "completed"},
		},
		{
			name: "run runs the dependent anyway",
			spec: `
name: run
nodes:
  - {id: bad, kind: fail, args: {times: -1}, max_attempts: 1}
  - {id: ok, kind: echo}
  - {id: child, kind: echo, deps: [bad, ok], on_dep_failure: run}
`,
			status: "failed",
			states: map[string]string{"bad": "failed", "ok": "completed", "child": "completed"},
		},
		{
			name: "group with a failed member fails, its dependents are cancelled",
			spec: `
name: group
nodes:
  - id: g
    nodes:
      - {id: bad, kind: fail, args: {times: -1}, max_attempts: 1}
      - {id: fine, kind: echo}
  - {id: after, kind: echo, deps: [g]}
  - id: g2
    deps: [g]
    nodes:
      - {id: m, kind: echo}
`,
			status: "failed",
			states: map[string]string{"g": "failed", "g/bad": "failed", "g/fine": "completed", "after": "cancelled", "g2": "cancelled", "g2/m": "cancelled"},
		},
		{
			name: "retries within max_attempts succeed",
			spec: `
name: retried
nodes:
  - {id: flaky, kind: fail, args: {times: 2}, max_attempts: 3}
  - {id: after, kind: echo, deps: [flaky]}
`,
			status: "completed",
			states: map[string]string{"flaky": "completed", "after": "completed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t)
			b.startWorker(t, 10)
			st := b.waitFinished(t, b.submitYAML(t, tt.spec), waitLong)
			require.EqualValues(t, tt.status, st.Status)
			states := nodeStates(st)
			for path, want := range tt.states {
				require.Equal(t, want, states[path], path)
			}
		})
	}
}

func TestFailedNodeRecordsAttemptsAndError(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.startWorker(t, 10)
	st := b.waitFinished(t, b.submitYAML(t, `
name: failing
nodes:
  - {id: bad, kind: fail, args: {times: -1}, max_attempts: 2}
`), waitLong)
	require.EqualValues(t, "failed", st.Status)
	bad := nodeByID(t, st, "bad")
	require.EqualValues(t, "failed", bad.State)
	require.Equal(t, 2, bad.Attempts)
	require.NotNil(t, bad.Error)
	require.Contains(t, *bad.Error, "planned failure")
}

func TestTimeoutIsEnforced(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.startWorker(t, 10)
	st := b.waitFinished(t, b.submitYAML(t, `
name: slow
nodes:
  - {id: slow, kind: sleep, args: {ms: 60000}, timeout: 200ms, max_attempts: 1}
`), waitLong)
	require.EqualValues(t, "failed", st.Status)
	slow := nodeByID(t, st, "slow")
	require.NotNil(t, slow.Error)
	require.Contains(t, *slow.Error, "timed out after 200ms")
}
