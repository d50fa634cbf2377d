package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// prometheusDir returns the directory holding Debian's prometheus and
// promtool, which scripts/ensure-prometheus.sh installs when they are
// missing. The test fails, never skips, without them.
func prometheusDir(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(moduleRoot, "scripts", "ensure-prometheus.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "scripts/ensure-prometheus.sh: %s", stderr.String())
	dir := strings.TrimSpace(string(out))
	require.FileExists(t, filepath.Join(dir, "promtool"))
	require.FileExists(t, filepath.Join(dir, "prometheus"))
	return dir
}

// promtool returns the path of promtool (see prometheusDir).
func promtool(t *testing.T) string {
	t.Helper()
	return filepath.Join(prometheusDir(t), "promtool")
}

// scrape fetches a worker's /metrics in the text format.
func scrape(t *testing.T, w *workerProc) string {
	t.Helper()
	resp, err := http.Get("http://" + w.addr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// observeWorkflows runs a completed, a failed and a cancelled workflow
// through the worker w and waits until its scrape shows them, with the
// database collector's figures (w must collect: River's leader, or
// --db-metrics=on). It returns that scrape.
func observeWorkflows(t *testing.T, e *env, w *workerProc) string {
	t.Helper()
	ok := writeFile(t, "ok.yaml", "name: ok\nnodes:\n  - {id: a, kind: noop}\n  - {id: b, kind: echo, deps: [a]}\n")
	bad := writeFile(t, "bad.yaml", "name: bad\nnodes:\n  - {id: c, kind: fail, args: {times: -1}, max_attempts: 1}\n")
	slow := writeFile(t, "slow.yaml", "name: slow\nnodes:\n  - {id: s, kind: sleep, args: {ms: 600000}}\n")
	require.Equal(t, 0, e.enqueue("submit", "--wait", ok).code)
	require.Equal(t, exitWorkflowFailed, e.enqueue("submit", "--wait", bad).code)
	id := e.submit(slow)
	require.Equal(t, 0, e.enqueue("cancel", id).code)

	var body, missing string
	t.Cleanup(func() {
		if t.Failed() && missing != "" {
			t.Logf("missing %q in:\n%s", missing, body)
		}
	})
	waitFor(t, 30*time.Second, "the worker leads and has observed every workflow", func() bool {
		body = scrape(t, w)
		for _, want := range []string{
			"quantumflow_db_collector_up 1\n",
			// enqueue cancel ran the cancel: the worker saw none.
			`quantumflow_workflow_duration_seconds_count{outcome="cancelled"} 0` + "\n",
			`quantumflow_workflow_duration_seconds_count{outcome="completed"} 1` + "\n",
			`quantumflow_workflow_duration_seconds_count{outcome="failed"} 1` + "\n",
			`quantumflow_node_promotion_seconds_count{queue="default"} `,
			`quantumflow_job_wait_seconds_count{queue="default"} `,
			`quantumflow_fleet_members{state="live"} 1` + "\n",
			`quantumflow_workflows{status="running"} 0` + "\n",
			`quantumflow_queue_jobs{queue="default",state="available"} 0` + "\n",
		} {
			if !strings.Contains(body, want) {
				missing = want
				return false
			}
		}
		return true
	})
	return body
}

// TestWorkerMetricsPromtool runs workflows (a completed, a failed and a
// cancelled one) through a real worker binary, waits until it leads (so
// its database collector exports), and pipes its /metrics into `promtool
// check metrics`, which must exit 0 and say nothing. It also checks the
// version label of quantumflow_worker_info against `worker --version`.
func TestWorkerMetricsPromtool(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	e := newEnv(t)
	w := e.startWorker(t)
	body := observeWorkflows(t, e, w)

	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, string(out), "promtool check metrics has complaints")

	// The version label is what --version prints, in its short form.
	ver, err := exec.CommandContext(context.Background(), workerBin, "--version").Output()
	require.NoError(t, err)
	m := regexp.MustCompile(`^worker (\S+) \(commit (unknown|[0-9a-f]{40})(, modified)?\)\n$`).FindStringSubmatch(string(ver))
	require.NotNil(t, m, "worker --version: %q", ver)
	label := m[1]
	if m[1] == "(devel)" && m[2] != "unknown" {
		label = m[2][:12]
		if m[3] != "" {
			label += "-dirty"
		}
	}
	require.Regexp(t, `quantumflow_worker_info\{id="[^"]+",version="`+regexp.QuoteMeta(label)+`"\} 1`, body)
	ever, err := exec.Command(enqueueBin, "--version").Output()
	require.NoError(t, err)
	require.Equal(t, "enqueue "+strings.TrimPrefix(string(ver), "worker "), string(ever), "both binaries of one build say the same")
}
