package dag_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/quantumflow/quantumflow/dag"
)

// Example_compile parses a spec and walks its plan.
func Example_compile() {
	spec, err := dag.Parse(strings.NewReader(`
name: nightly-report
nodes:
  - {id: fetch, kind: sleep, args: {ms: 20}}
  - id: per-region
    deps: [fetch]
    nodes:
      - {id: a, kind: noop}
      - {id: b, kind: echo, deps: [a]}
  - {id: report, kind: noop, deps: [per-region]}
`))
	if err != nil {
		panic(err)
	}
	plan, err := dag.Compile(spec, nil)
	if err != nil {
		panic(err)
	}
	for _, n := range plan.Nodes {
		fmt.Printf("%d %-14s parent=%2d deps=%v group=%v\n", n.Index, n.Path, n.Parent, n.Deps, n.IsGroup())
	}
	// Output:
	// 0 fetch          parent=-1 deps=[] group=false
	// 1 per-region     parent=-1 deps=[0] group=true
	// 2 per-region/a   parent= 1 deps=[] group=false
	// 3 per-region/b   parent= 1 deps=[2] group=false
	// 4 report         parent=-1 deps=[1] group=false
}

// Example_validationError shows how problems are reported.
func Example_validationError() {
	spec, err := dag.ParseBytes([]byte(`
name: wf
nodes:
  - {id: a, kind: noop, deps: [b]}
  - {id: b, kind: noop, deps: [a]}
  - id: g
    nodes: [{id: x, kind: noop, deps: [y]}]
`))
	if err != nil {
		panic(err)
	}
	_, err = dag.Compile(spec, nil)
	fmt.Println(err)
	fmt.Println(errors.Is(err, dag.ErrCycle), errors.Is(err, dag.ErrUnknownDep))
	// Output:
	// node "a": deps: cycle: a -> b -> a (each node depends on the next)
	// node "g/x": deps: unknown dep "y" (deps name sibling nodes only)
	// true true
}
