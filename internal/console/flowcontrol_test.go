package console_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/console"
	"github.com/quantumflow/quantumflow/internal/console/consoletest"
)

// TestFlowControlActions: a node's panel carries `enqueue why`'s answer;
// an operator pauses and resumes a workflow and cancels and retries one
// node through the API (a viewer is refused each, nothing changed); a
// finished node cannot be cancelled again (409).
func TestFlowControlActions(t *testing.T) {
	t.Parallel()
	b := setup(t, testCreds)
	consoletest.StartWorker(t, b.db.Pool, b.client, b.gates)
	wf := consoletest.Submit(t, b.client, `
name: fc
nodes:
  - {id: a, kind: gate, args: {name: fc-a}}
  - {id: b, kind: noop, deps: [a]}
  - {id: c, kind: noop, deps: [b]}
`)
	consoletest.Eventually(t, b.client, wf, time.Minute, "a running", func(st *flow.WorkflowStatus) bool {
		return consoletest.States(st)["a"] == "running"
	})
	op, viewer := b.caller(t), b.caller(t)
	op.header.Set("Authorization", "Bearer op-secret")
	viewer.header.Set("Authorization", "Bearer view-secret")

	var node console.NodeDetail
	code, body := viewer.do("GET", "/api/workflows/"+wf+"/node?path=b", nil)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &node))
	require.NotNil(t, node.Why, body)
	require.Contains(t, *node.Why, "deps", "b waits for a")
	code, body = viewer.do("GET", "/api/workflows/"+wf+"/node?path=a", nil)
	require.Equal(t, http.StatusOK, code, body)
	node = console.NodeDetail{}
	require.NoError(t, json.Unmarshal([]byte(body), &node))
	require.Nil(t, node.Why, "a running node has no why")

	status := func() *flow.WorkflowStatus {
		st, err := b.client.Status(t.Context(), wf)
		require.NoError(t, err)
		return st
	}
	for _, path := range []string{"/pause", "/resume", "/nodes/cancel?path=b", "/nodes/retry?path=b"} {
		code, body := viewer.do("POST", "/api/workflows/"+wf+path, nil)
		require.Equal(t, http.StatusForbidden, code, "viewer %s: %s", path, body)
	}
	require.False(t, status().Paused)
	require.Equal(t, "waiting", consoletest.States(status())["b"])

	code, body = op.do("POST", "/api/workflows/"+wf+"/pause", nil)
	require.Equal(t, http.StatusOK, code, body)
	require.True(t, status().Paused)
	code, body = op.do("POST", "/api/workflows/"+wf+"/resume", nil)
	require.Equal(t, http.StatusOK, code, body)
	require.False(t, status().Paused)

	code, body = op.do("POST", "/api/workflows/"+wf+"/nodes/cancel?path=b", nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "cancelled", consoletest.States(status())["b"])
	code, body = op.do("POST", "/api/workflows/"+wf+"/nodes/cancel?path=b", nil)
	require.Equal(t, http.StatusConflict, code, body)

	b.gates.Open("fc-a")
	st := consoletest.Eventually(t, b.client, wf, time.Minute, "finished", func(st *flow.WorkflowStatus) bool { return st.Status.IsFinal() })
	require.Equal(t, "failed", string(st.Status))
	code, body = op.do("POST", "/api/workflows/"+wf+"/nodes/retry?path=b", nil)
	require.Equal(t, http.StatusOK, code, body)
	st = consoletest.Eventually(t, b.client, wf, time.Minute, "completed", func(st *flow.WorkflowStatus) bool { return st.Status.IsFinal() })
	require.Equal(t, "completed", string(st.Status), "%v", consoletest.States(st))
}
