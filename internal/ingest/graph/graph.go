// Package graph ranks the files of a codebase by PageRank over their import
// and reference edges, and fuses search rankings by reciprocal rank.
package graph

import (
	"math"
	"sort"
)

// Edge is a weighted edge between node indexes.
type Edge struct {
	From, To int
	Weight   float64
}

// PageRank parameters.
const (
	// Damping is the probability of following an edge rather than jumping
	// to a random node.
	Damping = 0.85
	// Tolerance ends the iteration when the L1 change of the ranks falls
	// below it.
	Tolerance = 1e-9
	// MaxIterations ends the iteration when the ranks converge slower.
	MaxIterations = 100
)

// PageRank returns a rank per node (summing to 1) of the graph with n nodes.
//
// It is the power iteration with damping Damping: a node passes its rank
// along its out-edges in proportion to their weights, and the rank of a
// dangling node (one without out-edges of positive weight) is spread over
// all nodes uniformly. It stops when the L1 change is below Tolerance or
// after MaxIterations. Parallel edges add their weights; self-loops count.
// Edges with an endpoint outside 0..n-1 or a weight that is not a positive
// finite number are ignored. The result does not depend on the order of
// edges, and is the same on every run and machine. PageRank(0, ...) is an
// empty slice.
func PageRank(n int, edges []Edge) []float64 {
	if n <= 0 {
		return []float64{}
	}
	// Incoming edges grouped by target (CSR) and sorted by source, so the
	// sums run in an order independent of the input's.
	type in struct {
		from int
		w    float64
	}
	out := make([]float64, n)
	count := make([]int, n+1)
	valid := make([]Edge, 0, len(edges))
	for _, e := range edges {
		if e.From < 0 || e.From >= n || e.To < 0 || e.To >= n || !(e.Weight > 0) || math.IsInf(e.Weight, 1) {
			continue
		}
		valid = append(valid, e)
		count[e.To+1]++
	}
	sort.Slice(valid, func(i, j int) bool {
		if valid[i].To != valid[j].To {
			return valid[i].To < valid[j].To
		}
		if valid[i].From != valid[j].From {
			return valid[i].From < valid[j].From
		}
		return valid[i].Weight < valid[j].Weight
	})
	for _, e := range valid {
		out[e.From] += e.Weight
	}
	for i := 1; i <= n; i++ {
		count[i] += count[i-1]
	}
	ins := make([]in, len(valid))
	for i, e := range valid {
		ins[i] = in{e.From, e.Weight / out[e.From]}
	}

	rank := make([]float64, n)
	next := make([]float64, n)
	for i := range rank {
		rank[i] = 1 / float64(n)
	}
	for iter := 0; iter < MaxIterations; iter++ {
		dangling := 0.0
		for i, r := range rank {
			if out[i] == 0 {
				dangling += r
			}
		}
		base := (1-Damping)/float64(n) + Damping*dangling/float64(n)
		delta := 0.0
		for v := 0; v < n; v++ {
			sum := 0.0
			for _, e := range ins[count[v]:count[v+1]] {
				sum += rank[e.from] * e.w
			}
			next[v] = base + Damping*sum
			delta += math.Abs(next[v] - rank[v])
		}
		rank, next = next, rank
		if delta < Tolerance {
			break
		}
	}
	total := 0.0
	for _, r := range rank {
		total += r
	}
	for i := range rank {
		rank[i] /= total
	}
	return rank
}

// K is the reciprocal rank fusion constant.
const K = 60

// Fuse merges ranked lists of keys by reciprocal rank fusion (k = 60): the
// keys in best-first order with their fused scores.
//
// A key's score is the sum of 1/(K + rank) over the lists it appears in,
// with rank 1-based; a key repeated within one list counts at its best
// rank only. Keys with equal scores keep the order of their first
// appearance, reading the lists in argument order and each list from its
// best. Fuse of no list, or of empty lists, returns nil slices.
func Fuse(lists ...[]string) (keys []string, scores []float64) {
	index := make(map[string]int)
	for _, list := range lists {
		seen := make(map[string]struct{}, len(list))
		for r, key := range list {
			if _, dup := seen[key]; dup {
				continue
			}
			seen[key] = struct{}{}
			i, ok := index[key]
			if !ok {
				i = len(keys)
				index[key] = i
				keys = append(keys, key)
				scores = append(scores, 0)
			}
			scores[i] += 1 / float64(K+r+1)
		}
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	if len(keys) == 0 {
		return nil, nil
	}
	sk, ss := make([]string, len(keys)), make([]float64, len(keys))
	for i, o := range order {
		sk[i], ss[i] = keys[o], scores[o]
	}
	return sk, ss
}
