package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/syncio"
)

var (
	customWorkerOnce sync.Once
	customWorkerBin  string
	customWorkerErr  error
)

// TestCustomWorkerExample builds examples/customworker (the program
// README.md shows), runs it as the only worker, and submits a workflow that
// uses its kind "shout": the kind is accepted once the worker registered it,
// and its output lands in the workflow's status.
func TestCustomWorkerExample(t *testing.T) {
	t.Parallel()
	customWorkerOnce.Do(func() {
		customWorkerBin = filepath.Join(filepath.Dir(workerBin), "customworker")
		cmd := exec.Command(goTool(), "build", "-o", customWorkerBin, "./examples/customworker")
		cmd.Dir = moduleRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			customWorkerErr = err
			t.Logf("%s", out)
		}
	})
	require.NoError(t, customWorkerErr, "go build ./examples/customworker")
	e := newEnv(t)

	spec := "name: custom\nnodes:\n  - {id: hi, kind: echo, args: {x: 1}}\n  - {id: loud, kind: shout, args: {text: hello}, deps: [hi]}\n"
	// Before any worker registered "shout", the spec is rejected.
	r := e.enqueueStdin(spec, "submit", "-")
	require.Equal(t, 3, r.code, r.String())
	require.Contains(t, r.stderr, "shout")

	cmd := exec.Command(customWorkerBin)
	cmd.Env = append(baseEnv(), "DATABASE_URL="+e.URL)
	var logs syncio.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	done := make(chan struct{}) // closed when the process exited; waitErr is then set
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("customworker log:\n%s", logs.String())
		}
	})

	waitFor(t, 30*time.Second, "the custom worker to register its kind", func() bool {
		var n int
		require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT count(*) FROM qf_kind WHERE kind = 'shout'`).Scan(&n))
		return n == 1
	})
	r = e.enqueueStdin(spec, "submit", "--wait", "-o", "json", "-")
	require.Zero(t, r.code, r.String())
	var st struct {
		Status string                     `json:"status"`
		Output map[string]json.RawMessage `json:"output"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
	require.EqualValues(t, "completed", st.Status)
	require.JSONEq(t, `{"text": "HELLO", "deps": 1}`, string(st.Output["loud"]))

	// SIGINT: the example stops cleanly.
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	select {
	case <-done:
		require.NoError(t, waitErr, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("customworker did not stop on SIGINT")
	}
	require.NotContains(t, strings.ToLower(logs.String()), "panic")
}
