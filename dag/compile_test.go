package dag_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
)

func TestCompileSpecExample(t *testing.T) {
	t.Parallel()

	plan, err := parseAndCompile(specExample, &dag.CompileOpts{KnownKind: builtinKinds})
	require.NoError(t, err)
	checkPlan(t, plan.Nodes, 0, -1)

	require.Equal(t, "nightly-report", plan.Name)
	require.Equal(t, "nightly-report-2026-11-26", plan.Key)
	require.JSONEq(t, `{"region": "eu"}`, string(plan.Input))
	require.Len(t, plan.Hash, 64)

	type row struct {
		Path       string
		Parent     int
		Depth      int
		Kind       string
		Deps       []int
		Dependents []int
	}
	var rows []row
	for _, n := range plan.Nodes {
		rows = append(rows, row{n.Path, n.Parent, n.Depth, n.Kind, n.Deps, n.Dependents})
	}
	require.Equal(t, []row{
		{"fetch", -1, 1, "sleep", nil, []int{1}},
		{"per-region", -1, 1, "", []int{0}, []int{4}},
		{"per-region/a", 1, 2, "noop", nil, []int{3}},
		{"per-region/b", 1, 2, "echo", []int{2}, nil},
		{"report", -1, 1, "noop", []int{1}, nil},
	}, rows)

	fetch := plan.Nodes[0]
	require.JSONEq(t, `{"ms": 20}`, string(fetch.Args))
	require.Equal(t, "default", fetch.Queue)
	require.Equal(t, 3, fetch.Priority)
	require.Equal(t, 3, fetch.MaxAttempts)
	require.Equal(t, 30*time.Second, fetch.Timeout)
	require.Equal(t, "cancel", fetch.OnDepFailure)
	require.Equal(t, "{}", string(plan.Nodes[2].Args))

	group := plan.Nodes[1]
	require.True(t, group.IsGroup())
	require.Equal(t, 2, group.Members)
	require.Equal(t, 1, group.SinkMembers)
	require.Nil(t, group.Args)
	require.Equal(t, 1, plan.SinkCount())
	require.Equal(t, 1, dag.SinkCount(plan.Nodes, 1))
}

func TestCompileResolvesDefaults(t *testing.T) {
	t.Parallel()

	doc := `
name: wf
defaults: {queue: reports, priority: high, max_attempts: 5, timeout: 1m}
nodes:
  - {id: plain, kind: noop}
  - {id: own, kind: noop, queue: bulk-jobs, priority: bulk, max_attempts: 1, timeout: 90s, on_dep_failure: skip}
`
	plan, err := parseAndCompile(doc, nil)
	require.NoError(t, err)
	plain, own := plan.Nodes[0], plan.Nodes[1]
	require.Equal(t, "reports", plain.Queue)
	require.Equal(t, 2, plain.Priority)
	require.Equal(t, 5, plain.MaxAttempts)
	require.Equal(t, time.Minute, plain.Timeout)
	require.Equal(t, "bulk-jobs", own.Queue)
	require.Equal(t, 4, own.Priority)
	require.Equal(t, 1, own.MaxAttempts)
	require.Equal(t, 90*time.Second, own.Timeout)
	require.Equal(t, "skip", own.OnDepFailure)

	plan, err = parseAndCompile("name: wf\nnodes: [{id: a, kind: noop, priority: realtime}]\n", nil)
	require.NoError(t, err)
	require.Equal(t, "default", plan.Nodes[0].Queue)
	require.Equal(t, 1, plan.Nodes[0].Priority)
	require.Equal(t, 3, plan.Nodes[0].MaxAttempts)
	require.Zero(t, plan.Nodes[0].Timeout)
	require.Equal(t, "{}", string(plan.Input))
}

func TestCompileOrdering(t *testing.T) {
	t.Parallel()

	// Declared out of order: c needs b needs a; x and z are free, y needs x.
	doc := `
name: wf
nodes:
  - {id: c, kind: noop, deps: [b]}
  - id: b
    deps: [a]
    nodes:
      - {id: y, kind: noop, deps: [x]}
      - {id: z, kind: noop}
      - {id: x, kind: noop}
  - {id: a, kind: noop}
  - {id: free, kind: noop}
`
	plan, err := parseAndCompile(doc, nil)
	require.NoError(t, err)
	checkPlan(t, plan.Nodes, 0, -1)
	var paths []string
	for _, n := range plan.Nodes {
		paths = append(paths, n.Path)
	}
	// Ties go by declaration: z (declared before x) first, then x, then y.
	require.Equal(t, []string{"a", "b", "b/z", "b/x", "b/y", "c", "free"}, paths)
	require.Equal(t, 2, plan.SinkCount()) // c and free
	require.Equal(t, 2, plan.Nodes[1].SinkMembers)
}

func TestCompileRandomDAGs(t *testing.T) {
	t.Parallel()

	for seed := range uint64(50) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()

			rng := rand.New(rand.NewPCG(seed, 42))
			spec := &dag.Spec{Name: "random", Nodes: randomNodes(rng, 1, 40)}
			plan, err := dag.Compile(spec, nil)
			require.NoError(t, err)
			checkPlan(t, plan.Nodes, 0, -1)
		})
	}
}

// randomNodes makes a random acyclic level: a hidden topological order,
// declared shuffled, with deps only on earlier nodes of that order.
func randomNodes(rng *rand.Rand, depth, width int) []dag.Node {
	n := 1 + rng.IntN(width)
	nodes := make([]dag.Node, n)
	for i := range nodes {
		nodes[i].ID = fmt.Sprintf("n%d", i)
		for j := range i {
			if rng.IntN(4) == 0 {
				nodes[i].Deps = append(nodes[i].Deps, nodes[j].ID)
			}
		}
		if depth < 4 && rng.IntN(5) == 0 {
			nodes[i].Nodes = randomNodes(rng, depth+1, width/2)
		} else {
			nodes[i].Kind = "noop"
		}
	}
	rng.Shuffle(n, func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	return nodes
}

func TestCompileManyErrors(t *testing.T) {
	t.Parallel()

	t.Run("Several", func(t *testing.T) {
		t.Parallel()

		doc := yamlSpec("  - {id: a, kind: noop, deps: [b]}\n  - {id: b, kind: noop, deps: [a]}\n  - {id: c, kind: noop, priority: urgent}\n  - {id: d, kind: noop, deps: [nope]}\n")
		_, err := parseAndCompile(doc, nil)
		var many *dag.ValidationErrors
		require.ErrorAs(t, err, &many)
		require.Len(t, many.Errors, 3)
		require.False(t, many.Truncated)
		require.ErrorIs(t, err, dag.ErrCycle)
		require.ErrorIs(t, err, dag.ErrInvalidPriority)
		require.ErrorIs(t, err, dag.ErrUnknownDep)
		var one *dag.ValidationError
		require.ErrorAs(t, err, &one)
		require.Len(t, strings.Split(err.Error(), "\n"), 3)
	})

	t.Run("StopsAtFifty", func(t *testing.T) {
		t.Parallel()

		spec := &dag.Spec{Name: "wf"}
		for i := range 200 {
			spec.Nodes = append(spec.Nodes, dag.Node{ID: fmt.Sprintf("n%d", i), Kind: "noop", Settings: dag.Settings{Priority: "urgent"}})
		}
		_, err := dag.Compile(spec, nil)
		var many *dag.ValidationErrors
		require.ErrorAs(t, err, &many)
		require.Len(t, many.Errors, dag.MaxValidationErrors)
		require.True(t, many.Truncated)
		require.Contains(t, err.Error(), "stopped after 50 problems")
	})
}

func TestCompileLimits(t *testing.T) {
	t.Parallel()

	bigArgs := func(size int) json.RawMessage {
		// {"s":"xxx..."} is size bytes.
		return json.RawMessage(`{"s":"` + strings.Repeat("x", size-8) + `"}`)
	}

	t.Run("ArgsAtLimit", func(t *testing.T) {
		t.Parallel()

		spec := &dag.Spec{Name: "wf", Nodes: []dag.Node{{ID: "a", Kind: "noop", Args: bigArgs(dag.MaxArgsBytes)}}}
		_, err := dag.Compile(spec, nil)
		require.NoError(t, err)
	})

	t.Run("ArgsJustOver", func(t *testing.T) {
		t.Parallel()

		spec := &dag.Spec{Name: "wf", Nodes: []dag.Node{{ID: "a", Kind: "noop", Args: bigArgs(dag.MaxArgsBytes + 1)}}}
		_, err := dag.Compile(spec, nil)
		ve := findValidationError(t, err, dag.ErrArgsTooLarge)
		require.Equal(t, "a", ve.Path)
		require.Equal(t, "args", ve.Field)
	})

	t.Run("ArgsOverLimitFromYAML", func(t *testing.T) {
		t.Parallel()

		doc := yamlSpec("  - id: a\n    kind: noop\n    args: {s: " + strings.Repeat("x", dag.MaxArgsBytes) + "}\n")
		_, err := parseAndCompile(doc, nil)
		findValidationError(t, err, dag.ErrArgsTooLarge)
	})

	t.Run("InputJustOver", func(t *testing.T) {
		t.Parallel()

		spec := &dag.Spec{Name: "wf", Input: bigArgs(dag.MaxInputBytes + 1), Nodes: []dag.Node{{ID: "a", Kind: "noop"}}}
		_, err := dag.Compile(spec, nil)
		ve := findValidationError(t, err, dag.ErrInputTooLarge)
		require.Equal(t, "input", ve.Field)
	})

	deep := func(levels int) *dag.Spec {
		leaf := []dag.Node{{ID: "leaf", Kind: "noop"}}
		for i := levels - 1; i >= 1; i-- {
			leaf = []dag.Node{{ID: fmt.Sprintf("g%d", i), Nodes: leaf}}
		}
		return &dag.Spec{Name: "wf", Nodes: leaf}
	}

	t.Run("Depth32", func(t *testing.T) {
		t.Parallel()

		plan, err := dag.Compile(deep(dag.MaxDepth), nil)
		require.NoError(t, err)
		require.Equal(t, dag.MaxDepth, plan.Nodes[len(plan.Nodes)-1].Depth)
		checkPlan(t, plan.Nodes, 0, -1)
	})

	t.Run("Depth33", func(t *testing.T) {
		t.Parallel()

		_, err := dag.Compile(deep(dag.MaxDepth+1), nil)
		ve := findValidationError(t, err, dag.ErrTooDeep)
		require.Equal(t, "nodes", ve.Field)
		require.Equal(t, 32, strings.Count(ve.Path, "/")+1)
	})

	t.Run("TooManyNodes", func(t *testing.T) {
		t.Parallel()

		nodes := []dag.Node{{ID: "a", Kind: "noop"}, {ID: "g", Nodes: []dag.Node{{ID: "b", Kind: "noop"}}}}
		_, err := dag.CompileNodes(nodes, dag.Defaults{}, &dag.CompileOpts{BasePath: "x", BaseParent: 0, BaseDepth: 1, ExistingNodes: dag.MaxNodes - 3})
		require.NoError(t, err)

		_, err = dag.CompileNodes(nodes, dag.Defaults{}, &dag.CompileOpts{BasePath: "x", BaseParent: 0, BaseDepth: 1, ExistingNodes: dag.MaxNodes - 2})
		ve := findValidationError(t, err, dag.ErrTooManyNodes)
		require.Equal(t, "x", ve.Path)
		require.Contains(t, ve.Error(), "1000000")
	})

	t.Run("SpecTooLarge", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("reads 512 MiB")
		}

		_, err := dag.Parse(&zeroReader{n: dag.MaxSpecBytes + 1})
		require.ErrorIs(t, err, dag.ErrSpecTooLarge)
	})
}

// zeroReader yields n spaces.
type zeroReader struct{ n int }

func (r *zeroReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("EOF")
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = ' '
	}
	r.n -= k
	return k, nil
}

func TestCompileNodes(t *testing.T) {
	t.Parallel()

	nodes := []dag.Node{
		{ID: "merge", Kind: "noop", Deps: []string{"shard", "side"}},
		{ID: "shard", Nodes: []dag.Node{{ID: "a", Kind: "echo"}, {ID: "b", Kind: "echo", Deps: []string{"a"}}}},
		{ID: "side", Kind: "sleep", Args: json.RawMessage(` { "ms" : 5 } `)},
	}
	opts := &dag.CompileOpts{BasePath: "fan/out", BaseDepth: 2, BaseIndex: 10, BaseParent: 7, ExistingNodes: 10, KnownKind: builtinKinds}
	got, err := dag.CompileNodes(nodes, dag.Defaults{Settings: dag.Settings{Queue: "bulk", MaxAttempts: 7}}, opts)
	require.NoError(t, err)
	checkPlan(t, got, 10, 7)

	var paths []string
	for _, n := range got {
		paths = append(paths, n.Path)
	}
	require.Equal(t, []string{"fan/out/shard", "fan/out/shard/a", "fan/out/shard/b", "fan/out/side", "fan/out/merge"}, paths)
	require.Equal(t, 10, got[0].Index)
	require.Equal(t, 7, got[0].Parent)
	require.Equal(t, 3, got[0].Depth)
	require.Equal(t, 10, got[1].Parent)
	require.Equal(t, 4, got[1].Depth)
	require.Equal(t, []int{10, 13}, got[4].Deps)
	require.Equal(t, `{"ms":5}`, string(got[3].Args))
	require.Equal(t, "bulk", got[1].Queue)
	require.Equal(t, 7, got[1].MaxAttempts)
	require.Equal(t, 1, dag.SinkCount(got, 7))

	t.Run("TopLevelWithoutBasePath", func(t *testing.T) {
		t.Parallel()

		got, err := dag.CompileNodes([]dag.Node{{ID: "a", Kind: "noop"}}, dag.Defaults{}, &dag.CompileOpts{BaseParent: 5})
		require.NoError(t, err)
		require.Equal(t, -1, got[0].Parent)
		require.Equal(t, "a", got[0].Path)
		require.Equal(t, 1, got[0].Depth)
	})

	t.Run("ErrorsUseBasePath", func(t *testing.T) {
		t.Parallel()

		_, err := dag.CompileNodes([]dag.Node{{ID: "a", Kind: "noop", Deps: []string{"zz"}}}, dag.Defaults{}, opts)
		ve := findValidationError(t, err, dag.ErrUnknownDep)
		require.Equal(t, "fan/out/a", ve.Path)
	})

	t.Run("TooDeepAtBase", func(t *testing.T) {
		t.Parallel()

		_, err := dag.CompileNodes([]dag.Node{{ID: "a", Kind: "noop"}}, dag.Defaults{}, &dag.CompileOpts{BasePath: "p", BaseDepth: dag.MaxDepth})
		ve := findValidationError(t, err, dag.ErrTooDeep)
		require.Equal(t, "p", ve.Path)

		_, err = dag.CompileNodes([]dag.Node{{ID: "g", Nodes: []dag.Node{{ID: "a", Kind: "noop"}}}}, dag.Defaults{}, &dag.CompileOpts{BasePath: "p", BaseDepth: dag.MaxDepth - 1})
		ve = findValidationError(t, err, dag.ErrTooDeep)
		require.Equal(t, "p/g", ve.Path)
	})

	t.Run("NoNodes", func(t *testing.T) {
		t.Parallel()

		_, err := dag.CompileNodes(nil, dag.Defaults{}, opts)
		require.ErrorIs(t, err, dag.ErrNoNodes)
	})
}

func TestQueueNamesMatchRiver(t *testing.T) {
	t.Parallel()

	// River v0.51.2, client.go: nameRegex and validateQueueName.
	river := regexp.MustCompile(`^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$`)
	names := []string{
		"default", "bulk", "a", "a1", "my_queue", "my-queue", "a-b_c", "q|x",
		"", "-a", "a-", "a--b", "a_-b", "A", "Queue", "a b", "a.b", "日本",
		strings.Repeat("a", 64), strings.Repeat("a", 65),
	}
	for _, name := range names {
		spec := &dag.Spec{Name: "wf", Nodes: []dag.Node{{ID: "a", Kind: "noop", Settings: dag.Settings{Queue: name}}}}
		_, err := dag.Compile(spec, nil)
		riverOK := name == "" || len(name) <= 64 && river.MatchString(name)
		require.Equal(t, riverOK, err == nil, "queue %q: %v", name, err)
	}
}
