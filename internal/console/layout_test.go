package console

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLayoutLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		deps   [][]int
		layers []int
	}{
		{"empty", nil, []int{}},
		{"single", [][]int{nil}, []int{0}},
		{"chain", [][]int{nil, {0}, {1}}, []int{0, 1, 2}},
		{"diamond", [][]int{nil, {0}, {0}, {1, 2}}, []int{0, 1, 1, 2}},
		{"dependents listed first", [][]int{{1}, nil}, []int{1, 0}},
		{"cycle is broken", [][]int{{1}, {0}}, []int{2, 1}},
		{"bad index ignored", [][]int{{7, -1}}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := LayoutLevel(len(tt.deps), tt.deps)
			require.Equal(t, tt.layers, l.Layer)
			for i, ds := range tt.deps {
				for _, d := range ds {
					if d >= 0 && d < len(tt.deps) && l.Layer[d] < l.Layer[i] {
						require.Less(t, l.Pos[d].X, l.Pos[i].X, "edge %d->%d points right", d, i)
					}
				}
			}
		})
	}
}

// TestLayoutLevelWide: a fan-out of 1000 wraps into columns of at most
// LayoutMaxRows, and no two members overlap.
func TestLayoutLevelWide(t *testing.T) {
	t.Parallel()
	deps := make([][]int, 1001)
	for i := 1; i <= 1000; i++ {
		deps[i] = []int{0}
	}
	l := LayoutLevel(len(deps), deps)
	seen := map[Point]bool{}
	for i, p := range l.Pos {
		require.False(t, seen[p], "member %d overlaps", i)
		seen[p] = true
		require.LessOrEqual(t, p.X+NodeWidth, l.Width)
		require.LessOrEqual(t, p.Y+NodeHeight, l.Height)
	}
	require.LessOrEqual(t, l.Height, 2*margin+LayoutMaxRows*(NodeHeight+rowGap))
}

// TestLayoutLevelBarycentre: dependents line up with their deps.
func TestLayoutLevelBarycentre(t *testing.T) {
	t.Parallel()
	// a, b in layer 0; b2 depends on b, a2 on a, listed b2 first.
	l := LayoutLevel(4, [][]int{nil, nil, {1}, {0}})
	require.Less(t, l.Pos[3].Y, l.Pos[2].Y, "a2 (after a) sits above b2 (after b)")
}
