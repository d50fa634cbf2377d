package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

const d = Damping

func requireRanks(t *testing.T, want, got []float64) {
	t.Helper()
	require.Len(t, got, len(want))
	sum := 0.0
	for i := range want {
		require.InDelta(t, want[i], got[i], 1e-8, "node %d: want %v got %v", i, want, got)
		sum += got[i]
	}
	require.InDelta(t, 1, sum, 1e-12)
}

func TestPageRankKnownGraphs(t *testing.T) {
	t.Parallel()
	// Star: four leaves point to a dangling centre. With l the rank of a
	// leaf and c = 1 - 4l, l = (1-d)/5 + d*c/5, so l = 1/(5 + 4d).
	l := 1 / (5 + 4*d)
	// Chain 0 → 1 → 2 with 2 dangling: r0 = a, r1 = a(1+d), r2 = a(1+d+d²)
	// where a = (1-d)/3 + d*r2/3, so a = (1-d)/(3 - d - d² - d³).
	a := (1 - d) / (3 - d - d*d - d*d*d)
	// Two nodes, 0 → 1 with weight 3 and 0 → 0 with weight 1, 1 → 0:
	// r0 = 0.075 + d(r0/4 + r1), r1 = 0.075 + d(3/4)r0.
	r0 := ((1-d)/2 + d*(1-d)/2) / (1 - d/4 - d*d*3/4)
	tests := []struct {
		name  string
		n     int
		edges []Edge
		want  []float64
	}{
		{"single node", 1, nil, []float64{1}},
		{"no edges", 4, nil, []float64{0.25, 0.25, 0.25, 0.25}},
		{"cycle", 3, []Edge{{0, 1, 1}, {1, 2, 1}, {2, 0, 1}}, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{"star", 5, []Edge{{1, 0, 1}, {2, 0, 1}, {3, 0, 1}, {4, 0, 1}}, []float64{1 - 4*l, l, l, l, l}},
		{"chain with a dangling end", 3, []Edge{{0, 1, 1}, {1, 2, 1}}, []float64{a, a * (1 + d), a * (1 + d + d*d)}},
		{"weighted with self-loop", 2, []Edge{{0, 1, 3}, {0, 0, 1}, {1, 0, 1}}, []float64{r0, 1 - r0}},
		{"parallel edges add", 2, []Edge{{0, 1, 1}, {0, 1, 2}, {0, 0, 1}, {1, 0, 1}}, []float64{r0, 1 - r0}},
		{
			"invalid edges ignored", 3,
			[]Edge{{0, 1, 1}, {1, 2, 1}, {-1, 0, 1}, {0, 3, 1}, {2, 0, 0}, {2, 0, -1}, {2, 0, math.NaN()}, {2, 1, math.Inf(1)}},
			[]float64{a, a * (1 + d), a * (1 + d + d*d)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireRanks(t, tt.want, PageRank(tt.n, tt.edges))
		})
	}
	require.Empty(t, PageRank(0, nil))
	require.NotNil(t, PageRank(0, nil))
}

// solve computes PageRank exactly by Gaussian elimination on
// (I - dM - dD/n) r = (1-d)/n.
func solve(n int, edges []Edge) []float64 {
	out := make([]float64, n)
	for _, e := range edges {
		out[e.From] += e.Weight
	}
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n+1)
		m[i][i] = 1
		m[i][n] = (1 - d) / float64(n)
	}
	for _, e := range edges {
		m[e.To][e.From] -= d * e.Weight / out[e.From]
	}
	for u := 0; u < n; u++ {
		if out[u] == 0 {
			for v := 0; v < n; v++ {
				m[v][u] -= d / float64(n)
			}
		}
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		m[c], m[p] = m[p], m[c]
		for r := 0; r < n; r++ {
			if r != c {
				f := m[r][c] / m[c][c]
				for k := c; k <= n; k++ {
					m[r][k] -= f * m[c][k]
				}
			}
		}
	}
	r := make([]float64, n)
	for i := range r {
		r[i] = m[i][n] / m[i][i]
	}
	return r
}

func randomGraph(rng *rand.Rand, n, m int) []Edge {
	edges := make([]Edge, m)
	for i := range edges {
		edges[i] = Edge{rng.IntN(n), rng.IntN(n), 0.5 + rng.Float64()*3}
	}
	return edges
}

func TestPageRankAgainstExactSolution(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 200; iter++ {
		n := 1 + rng.IntN(30)
		edges := randomGraph(rng, n, rng.IntN(4*n))
		requireRanks(t, solve(n, edges), PageRank(n, edges))
	}
}

func TestPageRankDeterministic(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	edges := randomGraph(rng, 500, 3000)
	want := PageRank(500, edges)
	shuffled := append([]Edge(nil), edges...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	require.Equal(t, want, PageRank(500, shuffled), "edge order changed the ranks")
	require.Equal(t, want, PageRank(500, edges))
}

func TestFuse(t *testing.T) {
	t.Parallel()
	s := func(ranks ...int) float64 {
		sum := 0.0
		for _, r := range ranks {
			sum += 1 / float64(K+r)
		}
		return sum
	}
	tests := []struct {
		name   string
		lists  [][]string
		keys   []string
		scores []float64
	}{
		{"none", nil, nil, nil},
		{"empty lists", [][]string{{}, nil}, nil, nil},
		{"one list keeps its order", [][]string{{"a", "b", "c"}}, []string{"a", "b", "c"}, []float64{s(1), s(2), s(3)}},
		{
			// 1/63 + 1/61 > 1/62 + 1/62 > 1/61 > 1/63
			"agreement wins", [][]string{{"a", "b", "c"}, {"c", "b", "d"}},
			[]string{"c", "b", "a", "d"}, []float64{s(3, 1), s(2, 2), s(1), s(3)},
		},
		{
			"ties by first appearance", [][]string{{"x", "y"}, {"z", "w"}},
			[]string{"x", "z", "y", "w"}, []float64{s(1), s(1), s(2), s(2)},
		},
		{
			"symmetric tie", [][]string{{"p", "q"}, {"q", "p"}},
			[]string{"p", "q"}, []float64{s(1, 2), s(2, 1)},
		},
		{
			"duplicate in a list counts once at its best rank", [][]string{{"a", "b", "a"}},
			[]string{"a", "b"}, []float64{s(1), s(2)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, scores := Fuse(tt.lists...)
			require.Equal(t, tt.keys, keys)
			require.Len(t, scores, len(tt.scores))
			for i := range scores {
				require.InDelta(t, tt.scores[i], scores[i], 1e-15)
			}
		})
	}
}

func BenchmarkPageRank(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	edges := randomGraph(rng, 12000, 100000)
	b.ReportAllocs()
	for b.Loop() {
		PageRank(12000, edges)
	}
}

func BenchmarkFuse(b *testing.B) {
	lists := make([][]string, 3)
	for i := range lists {
		for j := 0; j < 100; j++ {
			lists[i] = append(lists[i], string(rune('a'+i))+string(rune(j)))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		Fuse(lists...)
	}
}
