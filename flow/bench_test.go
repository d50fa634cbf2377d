package flow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
)

// BenchmarkWide runs 1 → 5 000 → 1 no-op workflows on one in-process
// worker with 500 slots and reports nodes/s, for profiling the completion
// path (go test ./flow -run XXX -bench BenchmarkWide -cpuprofile cpu.out).
// cmd/bench is the benchmark that compares with plain River.
func BenchmarkWide(b *testing.B) {
	const width = 5_000
	ctx := context.Background()
	bundle := setupWith(b, &flow.Config{})
	bundle.startWorker(b, 1000)
	spec := &dag.Spec{Name: "wide", Nodes: make([]dag.Node, 0, width+2)}
	spec.Nodes = append(spec.Nodes, dag.Node{ID: "root", Kind: "noop"})
	deps := make([]string, width)
	for i := 0; i < width; i++ {
		deps[i] = fmt.Sprintf("n%d", i)
		spec.Nodes = append(spec.Nodes, dag.Node{ID: deps[i], Kind: "noop", Deps: []string{"root"}})
	}
	spec.Nodes = append(spec.Nodes, dag.Node{ID: "join", Kind: "noop", Deps: deps})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := bundle.client.Submit(ctx, spec, nil)
		require.NoError(b, err)
		for {
			var status string
			require.NoError(b, bundle.db.Pool.QueryRow(ctx, `SELECT status FROM qf_workflow WHERE id = $1`, res.ID).Scan(&status))
			if status == "completed" {
				break
			}
			require.Contains(b, []string{"pending", "running"}, status)
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(width+2)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}

// BenchmarkWideThrottled is BenchmarkWide with every node under one
// concurrency key: limit 1000 (above the worker's 1000 slots' share of
// running jobs, so it measures the slot bookkeeping alone) and limit 100
// (which really holds nodes back). Nodes/s against BenchmarkWide's, in the
// same run, is the cost of a slot per node.
func BenchmarkWideThrottled(b *testing.B) {
	for _, limit := range []int{1000, 100} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			const width = 5_000
			ctx := context.Background()
			bundle := setupWith(b, &flow.Config{})
			bundle.startWorker(b, 1000)
			spec := &dag.Spec{Name: "wide-throttled", Nodes: make([]dag.Node, 0, width+2)}
			spec.Defaults.Concurrency = &dag.Concurrency{Key: "bench", Limit: limit}
			spec.Nodes = append(spec.Nodes, dag.Node{ID: "root", Kind: "noop"})
			deps := make([]string, width)
			for i := 0; i < width; i++ {
				deps[i] = fmt.Sprintf("n%d", i)
				spec.Nodes = append(spec.Nodes, dag.Node{ID: deps[i], Kind: "noop", Deps: []string{"root"}})
			}
			spec.Nodes = append(spec.Nodes, dag.Node{ID: "join", Kind: "noop", Deps: deps})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := bundle.client.Submit(ctx, spec, nil)
				require.NoError(b, err)
				for {
					var status string
					require.NoError(b, bundle.db.Pool.QueryRow(ctx, `SELECT status FROM qf_workflow WHERE id = $1`, res.ID).Scan(&status))
					if status == "completed" {
						break
					}
					require.Contains(b, []string{"pending", "running"}, status)
					time.Sleep(5 * time.Millisecond)
				}
			}
			b.ReportMetric(float64(width+2)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
		})
	}
}
