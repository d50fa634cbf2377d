package e2e

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// TestWaitOnFailedWorkflow: --wait exits 4 and names the failed node with its
// error; wait -o json gives the final status; status --failed shows it.
func TestWaitOnFailedWorkflow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startWorker(t)
	spec := writeFile(t, "doomed.yaml", `
name: doomed
nodes:
  - id: stage
    nodes:
      - {id: fine, kind: noop}
      - {id: doomed, kind: fail, args: {times: -1}, max_attempts: 1}
  - {id: after, kind: noop, deps: [stage]}
`)
	r := e.enqueue("submit", "--wait", spec)
	require.Equal(t, exitWorkflowFailed, r.code, "%s", r)
	id := strings.TrimSpace(r.stdout)
	require.Contains(t, r.stderr, "workflow "+id+" (doomed) failed after ")
	require.Contains(t, r.stderr, "  stage/doomed failed after 1 attempt: fail: attempt 1 (times -1): planned failure\n")
	require.Contains(t, r.stderr, "enqueue: workflow "+id+" failed\n")
	require.NotContains(t, r.stderr, "stage/fine")

	r = e.enqueue("wait", "-o", "json", id)
	require.Equal(t, exitWorkflowFailed, r.code, "wait on a failed workflow: %s", r)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
	require.Equal(t, "failed", st["status"])
	nodes := nodesByID(t, st)
	require.Equal(t, "failed", nodes["stage"]["state"], "a group with a failed member fails")
	require.Equal(t, "completed", nodes["stage/fine"]["state"])
	require.Equal(t, "cancelled", nodes["after"]["state"])

	r = e.enqueue("status", "--failed", id)
	require.Equal(t, exitOK, r.code, "%s", r)
	require.Regexp(t, `(?m)^├─ stage +group +failed\b`, r.stdout)
	require.Regexp(t, `(?m)^│  └─ doomed +fail +failed +1 +\S+ +fail: attempt 1 \(times -1\): planned failure$`, r.stdout)
	require.Regexp(t, `(?m)^└─ after +noop +cancelled +0$`, r.stdout)
	require.NotContains(t, r.stdout, "fine")
}

// TestCancel cancels a workflow whose node is running, from the CLI.
func TestCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.startWorker(t)
	id := e.submit(writeFile(t, "long.yaml", `
name: long
nodes:
  - {id: nap, kind: sleep, args: {ms: 600000}}
  - {id: then, kind: noop, deps: [nap]}
`))
	waitFor(t, 30*time.Second, "nap to run", func() bool {
		return nodesByID(t, e.statusJSON(id))["nap"]["state"] == "running"
	})

	// Following stops on Ctrl-C or --timeout; the workflow goes on.
	follower := e.startEnqueue(t, "wait", id)
	waitFor(t, 30*time.Second, "wait to print its first progress line", func() bool {
		return strings.Contains(follower.stderr(), "running: 0/2 nodes final")
	})
	follower.signal(os.Interrupt)
	code := follower.wait(10 * time.Second)
	require.Equal(t, exitError, code, "Ctrl-C while waiting:\n%s", follower.stderr())
	require.Contains(t, follower.stderr(), "enqueue: interrupted: stopped following workflow "+id+", which is still running and goes on without us")
	r := e.enqueue("--timeout", "500ms", "wait", id)
	require.Equal(t, exitError, r.code, "%s", r)
	require.Contains(t, r.stderr, "enqueue: gave up after --timeout 500ms: stopped following workflow "+id)
	require.Equal(t, "running", e.statusJSON(id)["status"], "the workflow goes on")

	r = e.enqueue("retry", id)
	require.Equal(t, exitError, r.code, "retry of a running workflow is refused: %s", r)
	require.Contains(t, r.stderr, "enqueue: workflow "+id+" is still running; nothing was retried")

	r = e.enqueue("cancel", id)
	require.Equal(t, exitOK, r.code, "%s", r)
	require.Equal(t, "cancelled workflow "+id+": 2 nodes (1 job stopped)\n", r.stdout)

	st := e.statusJSON(id)
	require.Equal(t, "cancelled", st["status"])
	rfc3339(t, "finished_at", st["finished_at"])
	nodes := nodesByID(t, st)
	require.Equal(t, "cancelled", nodes["nap"]["state"])
	require.Equal(t, "cancelled", nodes["then"]["state"])

	r = e.enqueue("cancel", id)
	require.Equal(t, exitError, r.code, "cancelling twice: %s", r)
	require.Equal(t, "enqueue: workflow "+id+" already finished (cancelled); nothing was cancelled\n", r.stderr)
	require.Empty(t, r.stdout)

	r = e.enqueue("wait", id)
	require.Equal(t, exitWorkflowFailed, r.code, "wait on a cancelled workflow: %s", r)
	require.Contains(t, r.stderr, "enqueue: workflow "+id+" cancelled")

	// The running sleep was asked to stop: the worker is free again and
	// shuts down at once rather than after its grace period.
	w.signal(syscall.SIGTERM)
	require.Equal(t, 0, w.wait(10*time.Second), "worker exits cleanly:\n%s", w.stderr())
}

// TestRetry reruns a failed workflow from the CLI until it completes.
func TestRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startWorker(t)
	// flaky fails its first 2 node attempts; with max_attempts 2 it fails
	// for good, and succeeds on its third attempt, after a retry.
	spec := writeFile(t, "flaky.yaml", `
name: retry-me
nodes:
  - {id: flaky, kind: fail, args: {times: 2}, max_attempts: 2}
  - {id: after, kind: echo, deps: [flaky]}
  - {id: side, kind: noop}
`)
	r := e.enqueue("submit", "--wait", spec)
	require.Equal(t, exitWorkflowFailed, r.code, "%s", r)
	id := strings.TrimSpace(r.stdout)
	require.Contains(t, r.stderr, "flaky failed after 2 attempts: fail: attempt 2 (times 2): planned failure")
	sideJob := nodesByID(t, e.statusJSON(id))["side"]["job_id"]

	r = e.enqueue("retry", "--mode", "failed-only", "--wait", id)
	require.Equal(t, exitOK, r.code, "%s", r)
	require.Regexp(t, `^retrying workflow `+id+` \(failed-only\): 2 nodes reset, 1 job enqueued\n$`, r.stdout)
	require.Contains(t, r.stderr, "workflow "+id+" (retry-me) completed")

	st := e.statusJSON(id)
	require.Equal(t, "completed", st["status"])
	nodes := nodesByID(t, st)
	require.Equal(t, "completed", nodes["flaky"]["state"])
	require.Equal(t, float64(3), nodes["flaky"]["attempts"], "attempts carry on across retries")
	require.Equal(t, "completed", nodes["after"]["state"])
	require.Equal(t, sideJob, nodes["side"]["job_id"], "failed-only keeps completed nodes")

	r = e.enqueue("retry", id)
	require.Equal(t, exitError, r.code, "%s", r)
	require.Contains(t, r.stderr, "enqueue: workflow "+id+" completed; nothing to retry")
	r = e.enqueue("cancel", id)
	require.Equal(t, exitError, r.code, "%s", r)
	require.Contains(t, r.stderr, "already finished (completed)")
}

// TestStatusTree checks the text tree of a finished workflow.
func TestStatusTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startWorker(t)
	r := e.enqueue("submit", "--wait", "examples/hello.yaml")
	require.Equal(t, exitOK, r.code, "%s", r)
	id := strings.TrimSpace(r.stdout)

	r = e.enqueue("status", id)
	require.Equal(t, exitOK, r.code, "%s", r)
	out := r.stdout
	for _, line := range []string{
		`^workflow ` + id + `  hello  completed$`,
		`^nodes     7: 7 completed$`,
		`^created   \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+, started .*, finished .* \(took \S+\)$`,
		`^NODE +KIND +STATE +ATTEMPTS +DURATION +ERROR$`,
		`^├─ fetch +echo +completed +1 +\d+ms$`,
		`^├─ per-region +group +completed +\S+$`, // a group: no attempts, a duration
		`^│  ├─ eu +sleep +completed +1 +\d+ms$`, // a member, indented under its group
		`^│  ├─ flaky +fail +completed +2 +\S+$`,
		`^│  └─ merge +echo +completed +1 +\S+$`,
		`^└─ report +echo +completed +1 +\S+$`,
	} {
		require.Regexp(t, regexp.MustCompile("(?m)"+line), out)
	}
	// Columns line up: every node line has its kind at the same offset.
	lines := strings.Split(strings.TrimSpace(out[strings.Index(out, "NODE"):]), "\n")
	col := strings.Index(lines[0], "KIND")
	for _, l := range lines[1:] {
		require.Contains(t, []string{"echo", "grou", "slee", "fail"}, string([]rune(l)[col:col+4]), "aligned: %q", l)
	}

	r = e.enqueue("status", "--max-nodes", "3", id)
	require.Equal(t, exitOK, r.code, "%s", r)
	require.Regexp(t, `(?m)^│  └─ … 3 more: 3 completed$`, r.stdout)
	require.Regexp(t, `(?m)^└─ … 1 more: 1 completed$`, r.stdout)
	require.Contains(t, r.stdout, "3 of 7 nodes shown")

	r = e.enqueue("status", "--failed", id)
	require.Equal(t, exitOK, r.code, "%s", r)
	require.Contains(t, r.stdout, "no failed or cancelled nodes")
}

// TestSubmitKeyAndList covers idempotency keys, stdin, JSON output and list.
func TestSubmitKeyAndList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	spec := "name: keyed\nkey: nightly-2026-11-26\nnodes:\n  - {id: a, kind: noop}\n"

	r := e.enqueueStdin(spec, "submit", "-o", "json", "-")
	require.Equal(t, exitOK, r.code, "%s", r)
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &first), "-o json is one object:\n%s", r.stdout)
	require.Equal(t, []string{"existing", "id", "key", "name", "nodes"}, keysOf(first))
	require.Equal(t, false, first["existing"])
	require.Equal(t, float64(1), first["nodes"])
	id := first["id"].(string)

	r = e.enqueueStdin(spec, "submit", "-o", "json", "-")
	require.Equal(t, exitOK, r.code, "%s", r)
	var again map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &again))
	require.Equal(t, id, again["id"], "same key, same spec: the same workflow")
	require.Equal(t, true, again["existing"])
	require.Contains(t, r.stderr, "already holds key")

	before := pgtest.Counts(t, e.Pool)
	r = e.enqueueStdin(strings.Replace(spec, "noop", "echo", 1), "submit", "-")
	require.Equal(t, exitInvalidSpec, r.code, "same key, different spec: %s", r)
	require.Contains(t, r.stderr, id, "the conflict names the workflow holding the key")
	require.Equal(t, before, pgtest.Counts(t, e.Pool))

	other := e.submit("examples/diamond.yaml")
	r = e.enqueue("list")
	require.Equal(t, exitOK, r.code, "%s", r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^ID +NAME +STATUS +NODES +CREATED +DURATION$`, lines[0])
	require.Regexp(t, `^`+other+` +diamond +pending +4 +`, lines[1], "newest first")
	require.Regexp(t, `^`+id+` +keyed +pending +1 +`, lines[2])

	r = e.enqueue("list", "-o", "json", "--limit", "1")
	require.Equal(t, exitOK, r.code, "%s", r)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
	require.Len(t, rows, 1)
	require.Equal(t, other, rows[0]["id"])

	r = e.enqueue("list", "--status", "completed")
	require.Equal(t, exitOK, r.code, "%s", r)
	require.Empty(t, r.stdout)
	require.Equal(t, "no completed workflows\n", r.stderr)
}

// TestMigrate applies the schema to an empty one, then finds nothing to do.
func TestMigrate(t *testing.T) {
	t.Parallel()
	envSlots <- struct{}{}
	t.Cleanup(func() { <-envSlots })
	db := pgtest.NewEmpty(t)
	run := func(args ...string) result {
		return runEnqueue(t, []string{"DATABASE_URL=" + db.URL}, nil, args...)
	}
	r := run("migrate")
	require.Equal(t, exitOK, r.code, "%s", r)
	require.Regexp(t, `^applied River migrations \[1( \d+)*\] and QuantumFlow migrations \[1( \d+)*\]\n$`, r.stdout)

	r = run("migrate", "-o", "json")
	require.Equal(t, exitOK, r.code, "%s", r)
	require.JSONEq(t, `{"river": [], "quantumflow": []}`, r.stdout)

	r = run("migrate")
	require.Equal(t, "schema is up to date; nothing applied\n", r.stdout)
	require.Equal(t, 0, pgtest.Counts(t, db.Pool)["qf_workflow"], "the schema works")
}
