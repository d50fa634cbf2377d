package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/console/consoletest"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// ensureBrowser installs chromium and playwright-core when missing
// (scripts/ensure-chromium.sh) and fails the test when they cannot be had:
// the browser tests never skip.
func ensureBrowser(t testing.TB) {
	t.Helper()
	cmd := exec.Command("../../scripts/ensure-chromium.sh")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "scripts/ensure-chromium.sh: %s", stderr.String())
	require.DirExists(t, strings.TrimSpace(string(out)))
}

// startConsole runs the command (run) on db with the given environment,
// on a free loopback port, until the test ends; it returns the base URL.
func startConsole(t testing.TB, db *pgtest.DB, env map[string]string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return db.URL
		}
		return env[k]
	}
	logw := &testLog{t: t}
	go func() {
		done <- run(ctx, append([]string{"--addr", "127.0.0.1:0", "--log-format", "text", "--log-level", "warn", "--max-conns", "4"}, args...), getenv, logw, ready)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("console: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("console did not stop")
		}
		logw.stop()
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case err := <-done:
		t.Fatalf("console did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("console did not start within a minute")
	}
	return ""
}

// testLog sends the console's log to t.Log until the test ends.
type testLog struct {
	t       testing.TB
	stopped bool
}

func (l *testLog) Write(p []byte) (int, error) {
	if !l.stopped {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) stop() { l.stopped = true }

// runNode runs a script of browsertest with node and env, logging its
// output; it fails the test when the script fails.
func runNode(t testing.TB, script string, env map[string]string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = "browsertest"
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		t.Log("browser: " + sc.Text())
		lines = append(lines, sc.Text())
	}
	require.NoError(t, cmd.Wait(), "node %s failed", script)
	return lines
}

const runningSpec = `
name: checkout-pipeline
nodes:
  - {id: prep, kind: echo, args: {cart: 42}}
  - id: batch
    deps: [prep]
    nodes:
      - {id: x1, kind: echo, args: {x: 1}}
      - {id: x2, kind: echo, args: {x: 2}}
      - {id: x3, kind: echo, args: {x: 3}}
      - {id: slow, kind: gate, args: {name: slow}}
  - {id: solo, kind: gate, args: {name: solo}}
  - {id: finish, kind: echo, deps: [batch]}
`

// failedSpec is the screenshots' workflow with a failed branch.
const failedSpec = `
name: nightly-etl
key: nightly-etl-2026-12-01
nodes:
  - {id: fetch-config, kind: echo, args: {env: prod, date: "2026-12-01"}}
  - id: extract
    deps: [fetch-config]
    nodes:
      - {id: eu-west, kind: sleep, args: {ms: 900}}
      - {id: us-east, kind: sleep, args: {ms: 1400}}
      - {id: ap-south, kind: sleep, args: {ms: 700}}
      - {id: sa-east, kind: sleep, args: {ms: 500}}
  - id: transform
    deps: [extract]
    nodes:
      - {id: dedupe, kind: sleep, args: {ms: 600}}
      - {id: enrich, kind: sleep, args: {ms: 800}, deps: [dedupe]}
      - {id: aggregate, kind: sleep, args: {ms: 400}, deps: [enrich]}
  - {id: load-warehouse, kind: fail, args: {times: -1}, max_attempts: 3, deps: [transform]}
  - {id: load-search, kind: sleep, args: {ms: 300}, deps: [transform]}
  - {id: publish-report, kind: echo, deps: [load-warehouse, load-search]}
  - {id: notify-team, kind: echo, deps: [load-search], on_dep_failure: run}
`

// TestBrowser drives the console in headless Chromium (playwright-core):
// the list, a running workflow whose node counts by state match flow's
// Status, a viewer's refused cancel, a group expanded, a node's panel, a
// node turning completed without a reload, an operator's cancel and retry.
// It also takes the screenshots of docs/img (into QF_CONSOLE_SHOTS when
// set, else a temporary directory).
func TestBrowser(t *testing.T) {
	ensureBrowser(t)
	db := pgtest.New(t)
	client, err := flow.NewClient(db.Pool, &flow.Config{ReconcileGrace: time.Millisecond})
	require.NoError(t, err)
	gates := &consoletest.Gates{}
	consoletest.StartWorker(t, db.Pool, client, gates)

	for _, spec := range []string{
		"name: hourly-sync\nnodes:\n  - {id: pull, kind: sleep, args: {ms: 200}}\n  - {id: push, kind: echo, deps: [pull]}\n",
		"name: invoice-batch\nnodes:\n  - id: regions\n    nodes:\n      - {id: eu, kind: noop}\n      - {id: us, kind: noop}\n  - {id: send, kind: echo, deps: [regions]}\n",
		"name: thumbnail-render\nnodes:\n  - {id: render, kind: sleep, args: {ms: 300}}\n",
	} {
		consoletest.Submit(t, client, spec)
	}
	failed := consoletest.Submit(t, client, failedSpec)
	toCancel := consoletest.Submit(t, client, "name: reindex-search\nnodes:\n  - {id: reindex, kind: gate, args: {name: never}}\n  - {id: verify, kind: echo, deps: [reindex]}\n")
	running := consoletest.Submit(t, client, runningSpec)

	consoletest.Eventually(t, client, failed, 2*time.Minute, "nightly-etl finished", func(st *flow.WorkflowStatus) bool { return st.Status.IsFinal() })
	consoletest.Eventually(t, client, toCancel, time.Minute, "reindex running", func(st *flow.WorkflowStatus) bool {
		return consoletest.States(st)["reindex"] == "running"
	})
	st := consoletest.Eventually(t, client, running, time.Minute, "checkout-pipeline steady", func(st *flow.WorkflowStatus) bool {
		s := consoletest.States(st)
		return s["prep"] == "completed" && s["batch/x1"] == "completed" && s["batch/x2"] == "completed" &&
			s["batch/x3"] == "completed" && s["batch/slow"] == "running" && s["solo"] == "running"
	})
	expect, err := json.Marshal(consoletest.Histogram(st, ""))
	require.NoError(t, err)
	top := map[string]string{}
	for _, n := range st.Nodes {
		if n.Parent == "" {
			top[n.ID] = string(n.State)
		}
	}
	expectTop, err := json.Marshal(top)
	require.NoError(t, err)

	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/open" {
			http.NotFound(w, r)
			return
		}
		gates.Open(r.URL.Query().Get("gate"))
	}))
	t.Cleanup(control.Close)

	base := startConsole(t, db, map[string]string{"QF_CONSOLE_TOKEN": "op-token", "QF_CONSOLE_VIEWER_TOKEN": "viewer-token"})
	shots := os.Getenv("QF_CONSOLE_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	shots, err = filepath.Abs(shots)
	require.NoError(t, err)
	runNode(t, "console.test.mjs", map[string]string{
		"QF_BASE": base, "QF_CONTROL": control.URL, "QF_OPERATOR": "op-token", "QF_VIEWER": "viewer-token",
		"QF_RUNNING": running, "QF_CANCEL": toCancel, "QF_FAILED": failed,
		"QF_EXPECT": string(expect), "QF_EXPECT_TOP": string(expectTop), "QF_SHOTS": shots,
	})

	// What the browser did, seen by the engine.
	// The operator cancelled reindex-search, then retried it (mode all):
	// its reindex node runs again, in its second run.
	after, err := client.Status(t.Context(), toCancel)
	require.NoError(t, err)
	require.False(t, after.Status.IsFinal(), "the operator's retry: %s", after.Status)
	var cancelled int
	require.NoError(t, db.Pool.QueryRow(t.Context(),
		`SELECT count(*) FROM qf_node WHERE workflow_id = $1 AND run > 0`, toCancel).Scan(&cancelled))
	require.Equal(t, 2, cancelled, "both nodes were cancelled and reset by the retry")
	after, err = client.Status(t.Context(), running)
	require.NoError(t, err)
	require.NotEqual(t, flowtype.WorkflowCancelled, after.Status, "the viewer's cancel was refused")
	require.Equal(t, "completed", consoletest.States(after)["solo"])
	for _, name := range []string{"console-list.png", "console-workflow-failed.png", "console-timeline.png"} {
		require.FileExists(t, filepath.Join(shots, name))
	}
	fmt.Fprintln(os.Stderr, "screenshots in", shots)
}
