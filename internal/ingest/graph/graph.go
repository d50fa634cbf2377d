// Package graph ranks the files of a codebase by PageRank over their import
// and reference edges, and fuses search rankings by reciprocal rank.
package graph

// Edge is a weighted edge between node indexes.
type Edge struct {
	From, To int
	Weight   float64
}

// PageRank returns a rank per node (summing to 1) of the graph with n nodes.
func PageRank(n int, edges []Edge) []float64 { return nil }

// Fuse merges ranked lists of keys by reciprocal rank fusion (k = 60): the
// keys in best-first order with their fused scores.
func Fuse(lists ...[]string) (keys []string, scores []float64) { return nil, nil }
