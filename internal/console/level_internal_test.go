package console

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flowtype"
)

// TestBuildLevelUnknownState: a state the console does not know (a newer
// engine's, such as "throttled") is carried through as it is, counted
// under its own name.
func TestBuildLevelUnknownState(t *testing.T) {
	t.Parallel()
	kind := "noop"
	nodes := []nodeRow{
		{Idx: 0, Parent: -1, Path: "g", State: flowtype.NodeRunning},
		{Idx: 1, Parent: 0, Path: "g/a", Kind: &kind, State: "throttled"},
		{Idx: 2, Parent: 0, Path: "g/b", Kind: &kind, State: flowtype.NodeCompleted},
		{Idx: 3, Parent: -1, Path: "z", Kind: &kind, State: "throttled", Deps: []int32{0}},
	}
	lv := &Level{Counts: map[string]int{}}
	buildLevel(lv, nodes, -1, time.Time{})
	require.Equal(t, map[string]int{"running": 1, "throttled": 2, "completed": 1}, lv.Counts)
	require.Len(t, lv.Members, 2)
	require.Equal(t, map[string]int{"throttled": 1, "completed": 1}, lv.Members[0].Counts)
	require.Equal(t, flowtype.NodeState("throttled"), lv.Members[1].State)
	require.Equal(t, []string{"g"}, lv.Members[1].Deps)
}
