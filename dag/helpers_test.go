package dag_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
)

// specExample is the example spec of docs/SPEC.md, the one that opens its
// section on the spec format.
const specExample = `
name: nightly-report            # required, [a-zA-Z0-9_.-]{1,128}
key: nightly-report-2026-11-26  # optional idempotency key: resubmitting returns the existing workflow
input: {region: eu}             # optional JSON object, visible to every node
defaults:                       # optional, apply to every leaf unless it overrides
  queue: default
  priority: normal              # realtime | high | normal | bulk
  max_attempts: 3
  timeout: 30s
nodes:
  - id: fetch                   # [a-zA-Z0-9_-]{1,64}, unique among siblings
    kind: sleep                 # a job kind that the workers register
    args: {ms: 20}
  - id: per-region
    deps: [fetch]
    nodes:                      # a group: a sub-DAG
      - {id: a, kind: noop}
      - {id: b, kind: echo, deps: [a]}
  - id: report
    kind: noop
    deps: [per-region]
    on_dep_failure: cancel      # cancel (default) | skip | run
`

// builtinKinds is what the workers register in tests.
func builtinKinds(kind string) bool {
	switch kind {
	case "noop", "sleep", "fail", "echo":
		return true
	}
	return false
}

// parseAndCompile runs Parse and Compile, returning the first error.
func parseAndCompile(doc string, opts *dag.CompileOpts) (*dag.Plan, error) {
	spec, err := dag.ParseBytes([]byte(doc))
	if err != nil {
		return nil, err
	}
	return dag.Compile(spec, opts)
}

// findValidationError returns the *ValidationError in err that matches
// sentinel.
func findValidationError(t *testing.T, err error, sentinel error) *dag.ValidationError {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, sentinel)
	var all []*dag.ValidationError
	var many *dag.ValidationErrors
	var one *dag.ValidationError
	switch {
	case errors.As(err, &many):
		all = many.Errors
	case errors.As(err, &one):
		all = []*dag.ValidationError{one}
	}
	for _, ve := range all {
		if errors.Is(ve, sentinel) {
			return ve
		}
	}
	require.FailNow(t, "no *ValidationError matches", "sentinel %v in %v", sentinel, err)
	return nil
}

// checkPlan asserts the invariants of a plan (or a CompileNodes result with
// the given base index and top-level parent).
func checkPlan(t require.TestingT, nodes []dag.PlanNode, base, topParent int) {
	at := func(index int) *dag.PlanNode {
		require.GreaterOrEqual(t, index, base)
		require.Less(t, index, base+len(nodes))
		return &nodes[index-base]
	}
	members := map[int]int{}
	sinks := map[int]int{}
	for i := range nodes {
		n := &nodes[i]
		require.Equal(t, base+i, n.Index, "index of %s", n.Path)
		require.Equal(t, n.ID, n.Path[strings.LastIndex(n.Path, "/")+1:])
		if n.Parent != topParent {
			p := at(n.Parent)
			require.True(t, p.IsGroup(), "parent of %s is a group", n.Path)
			require.Less(t, n.Parent, n.Index, "group before member %s", n.Path)
			require.Equal(t, p.Depth+1, n.Depth)
			require.Equal(t, p.Path+"/"+n.ID, n.Path)
			// Pre-order: the parent is the previous node or one of its
			// ancestors, so every subtree is contiguous after its group.
			prev := at(n.Index - 1)
			for prev.Index != n.Parent {
				require.NotEqual(t, topParent, prev.Parent, "%s follows its group's subtree", n.Path)
				prev = at(prev.Parent)
			}
		}
		if n.Parent != topParent {
			members[n.Parent]++
			if n.IsSink() {
				sinks[n.Parent]++
			}
		}
		require.IsNonDecreasing(t, n.Deps)
		require.IsNonDecreasing(t, n.Dependents)
		for _, d := range n.Deps {
			require.Less(t, d, n.Index, "dep before dependent %s", n.Path)
			require.Equal(t, n.Parent, at(d).Parent, "deps are siblings")
			require.Contains(t, at(d).Dependents, n.Index)
		}
		for _, d := range n.Dependents {
			require.Contains(t, at(d).Deps, n.Index)
		}
		if n.IsGroup() {
			require.Nil(t, n.Args)
		} else {
			require.NotEmpty(t, n.Args)
			require.Positive(t, n.MaxAttempts)
			require.Positive(t, n.Priority)
			require.NotEmpty(t, n.Queue)
		}
		require.Contains(t, []string{"cancel", "skip", "run"}, n.OnDepFailure)
	}
	for i := range nodes {
		n := &nodes[i]
		require.Equal(t, members[n.Index], n.Members, "members of %s", n.Path)
		require.Equal(t, sinks[n.Index], n.SinkMembers, "sink members of %s", n.Path)
	}
}
