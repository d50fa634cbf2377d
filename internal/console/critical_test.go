package console

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFindCriticalPath(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	leaf := func(idx, parent int32, path string, startS, endS int, deps ...int32) TimedNode {
		return TimedNode{Idx: idx, Parent: parent, Path: path, Leaf: true, Deps: deps,
			Start: t0.Add(time.Duration(startS) * time.Second), End: t0.Add(time.Duration(endS) * time.Second)}
	}
	group := func(idx, parent int32, path string, deps ...int32) TimedNode {
		return TimedNode{Idx: idx, Parent: parent, Path: path, Deps: deps}
	}
	tests := []struct {
		name   string
		nodes  []TimedNode
		length time.Duration
		paths  []string
	}{
		{"empty", nil, 0, nil},
		{"chain", []TimedNode{leaf(0, -1, "a", 0, 2), leaf(1, -1, "b", 2, 5, 0)}, 5 * time.Second, []string{"a", "b"}},
		{"diamond picks the long branch", []TimedNode{
			leaf(0, -1, "a", 0, 1), leaf(1, -1, "fast", 1, 2, 0), leaf(2, -1, "slow", 1, 9, 0), leaf(3, -1, "z", 9, 10, 1, 2),
		}, 10 * time.Second, []string{"a", "slow", "z"}},
		{"through a group", []TimedNode{
			leaf(0, -1, "a", 0, 1),
			group(1, -1, "g", 0),
			leaf(2, 1, "g/x", 1, 2), leaf(3, 1, "g/y", 2, 6, 2), leaf(4, 1, "g/z", 1, 3),
			leaf(5, -1, "b", 6, 7, 1),
		}, 7 * time.Second, []string{"a", "g", "g/x", "g/y", "b"}},
		{"never ran counts zero", []TimedNode{leaf(0, -1, "a", 0, 3), {Idx: 1, Parent: -1, Path: "b", Leaf: true, Deps: []int32{0}}},
			3 * time.Second, []string{"a", "b"}},
		{"cycle does not hang", []TimedNode{leaf(0, -1, "a", 0, 1, 1), leaf(1, -1, "b", 0, 2, 0)}, 3 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cp := FindCriticalPath(tt.nodes)
			require.Equal(t, tt.length, cp.Length)
			if tt.paths != nil {
				require.Equal(t, tt.paths, cp.Paths)
			}
		})
	}
}
