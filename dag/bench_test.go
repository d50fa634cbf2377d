package dag_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
)

// spec100k builds a spec of 100 000 nodes: 1 000 groups of 99 leaves that
// form chains and fan-ins, the groups chained in tens.
func spec100k() *dag.Spec {
	spec := &dag.Spec{Name: "bench", Defaults: dag.Defaults{Settings: dag.Settings{Queue: "bulk", MaxAttempts: 5}}}
	for g := range 1000 {
		group := dag.Node{ID: fmt.Sprintf("g%d", g), Nodes: make([]dag.Node, 99)}
		if g%10 != 0 {
			group.Deps = []string{fmt.Sprintf("g%d", g-1)}
		}
		for i := range group.Nodes {
			n := &group.Nodes[i]
			n.ID = fmt.Sprintf("n%d", i)
			n.Kind = "echo"
			n.Args = json.RawMessage(fmt.Sprintf(`{"shard": %d, "name": "n%d"}`, i, i))
			switch {
			case i == 98:
				for j := 90; j < 98; j++ {
					n.Deps = append(n.Deps, fmt.Sprintf("n%d", j))
				}
			case i > 0 && i < 90:
				n.Deps = []string{fmt.Sprintf("n%d", i-1)}
			}
		}
		spec.Nodes = append(spec.Nodes, group)
	}
	return spec
}

func BenchmarkCompile100k(b *testing.B) {
	spec := spec100k()
	opts := &dag.CompileOpts{KnownKind: builtinKinds}
	b.ReportAllocs()
	for b.Loop() {
		plan, err := dag.Compile(spec, opts)
		if err != nil || len(plan.Nodes) != 100_000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJSON100k(b *testing.B) {
	data, err := json.Marshal(spec100k())
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dag.ParseBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseYAML100k(b *testing.B) {
	data, err := json.Marshal(spec100k())
	require.NoError(b, err)
	data = append([]byte("# YAML\n"), data...) // Not '{' first: the YAML path.
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dag.ParseBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}
