package flow

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStatusTimesKeepTheirFraction: a time exactly on a second still has
// its sub-second digits, in UTC; null times stay null; the rest of the
// shape is unchanged.
func TestStatusTimesKeepTheirFraction(t *testing.T) {
	t.Parallel()
	onSecond := time.Date(2026, 11, 26, 15, 4, 5, 0, time.FixedZone("CET", 3600))
	withMicros := time.Date(2026, 11, 26, 15, 4, 5, 123456000, time.UTC)
	kind := "noop"
	st := WorkflowStatus{
		ID: "w", Name: "n", Status: "running", CreatedAt: onSecond, StartedAt: &withMicros,
		Input: json.RawMessage(`{}`), Output: json.RawMessage(`null`),
		Nodes: []NodeStatus{{ID: "a", Kind: &kind, State: "completed", Deps: []string{}, StartedAt: &onSecond}},
	}
	b, err := json.Marshal(st)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, "2026-11-26T14:04:05.000000Z", got["created_at"])
	require.Equal(t, "2026-11-26T15:04:05.123456Z", got["started_at"])
	require.Nil(t, got["finished_at"])
	node := got["nodes"].([]any)[0].(map[string]any)
	require.Equal(t, "2026-11-26T14:04:05.000000Z", node["started_at"])
	require.Nil(t, node["finished_at"])
	require.Equal(t, "noop", node["kind"])
	require.Contains(t, got, "input")
	require.NotContains(t, got, "key")

	// It still decodes into the Go types.
	var back WorkflowStatus
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, back.CreatedAt.Equal(onSecond))
	require.True(t, back.StartedAt.Equal(withMicros))
}
