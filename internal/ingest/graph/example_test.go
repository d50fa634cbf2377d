package graph_test

import (
	"fmt"

	"github.com/quantumflow/quantumflow/internal/ingest/graph"
)

func ExamplePageRank() {
	// Three files importing a fourth.
	ranks := graph.PageRank(4, []graph.Edge{{From: 1, To: 0, Weight: 1}, {From: 2, To: 0, Weight: 1}, {From: 3, To: 0, Weight: 1}})
	fmt.Printf("%.4f\n", ranks)
	// Output: [0.5420 0.1527 0.1527 0.1527]
}

func ExampleFuse() {
	text := []string{"a.go:10", "b.go:3", "c.go:7"}
	vector := []string{"c.go:7", "d.go:1", "a.go:10"}
	keys, scores := graph.Fuse(text, vector)
	for i, k := range keys {
		fmt.Printf("%s %.5f\n", k, scores[i])
	}
	// Output:
	// a.go:10 0.03227
	// c.go:7 0.03227
	// b.go:3 0.01613
	// d.go:1 0.01613
}
