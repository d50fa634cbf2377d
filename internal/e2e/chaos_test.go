package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// Chaos settings: workers heartbeat often and are declared dead quickly, so
// the test shows jobs of a killed worker running again within seconds.
const (
	chaosHeartbeat = "250ms"
	chaosDeadAfter = 1500 * time.Millisecond
	// chaosRescueBound is how long after a kill every job the killed worker
	// held must have been handed back: dead-after, plus a sweep interval,
	// plus slack for a loaded 2-core machine. River's own rescue would take
	// an hour.
	chaosRescueBound = 6 * time.Second
)

// chaosSpec writes a workflow of groups × (1 + width + 1) leaves plus a
// start and an end node: every group fans out from its first member and
// fans back in to its last, the end node fans in from every group, and one
// long sleep node runs on queue "long".
func chaosSpec(t *testing.T, groups, width, sleepMS int) (path string, leaves int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: chaos\ndefaults: {max_attempts: 25}\nnodes:\n")
	b.WriteString("  - {id: start, kind: noop}\n")
	b.WriteString("  - {id: long, kind: sleep, args: {ms: 6000}, queue: long, max_attempts: 1}\n")
	var gs []string
	for g := 0; g < groups; g++ {
		id := fmt.Sprintf("g%d", g)
		gs = append(gs, id)
		fmt.Fprintf(&b, "  - id: %s\n    deps: [start]\n    nodes:\n      - {id: fan, kind: noop}\n", id)
		var ns []string
		for n := 0; n < width; n++ {
			fmt.Fprintf(&b, "      - {id: n%d, kind: sleep, args: {ms: %d}, deps: [fan]}\n", n, sleepMS)
			ns = append(ns, fmt.Sprintf("n%d", n))
		}
		fmt.Fprintf(&b, "      - {id: join, kind: echo, deps: [%s]}\n", strings.Join(ns, ", "))
	}
	fmt.Fprintf(&b, "  - {id: end, kind: echo, deps: [%s, long]}\n", strings.Join(gs, ", "))
	path = filepath.Join(t.TempDir(), "chaos.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path, 3 + groups*(width+2)
}

// TestChaosKillWorkers runs a 5 000+-node workflow on three workers and
// SIGKILLs one every couple of seconds, replacing it. A fourth worker, never
// killed, serves queue "long" with a job that runs four times longer than
// dead-after. The workflow must complete with every node done exactly once.
func TestChaosKillWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	specPath, leaves := chaosSpec(t, 50, 98, 15)
	require.GreaterOrEqual(t, leaves, 5000)
	chaosKillWorkers(t, e, specPath, leaves, 3)
}

// chaosKillWorkers runs the workflow of specPath (from chaosSpec) on one
// steady worker serving queue "long" and killable workers serving
// "default", SIGKILLing one of those every couple of seconds and replacing
// it, and checks that the workflow completes with every node done exactly
// once and every job of a killed worker handed back within seconds.
// extraArgs go to every worker.
func chaosKillWorkers(t *testing.T, e *env, specPath string, leaves, killable int, extraArgs ...string) {
	t.Helper()
	ctx := context.Background()
	workerArgs := func(id string) []string {
		return append([]string{"--id", id, "--heartbeat-interval", chaosHeartbeat, "--dead-after", chaosDeadAfter.String(), "--queues", "default=20"}, extraArgs...)
	}
	e.startWorker(t, append([]string{"--id", "steady-long", "--heartbeat-interval", chaosHeartbeat, "--dead-after", chaosDeadAfter.String(), "--queues", "long=1"}, extraArgs...)...)
	fleet := make([]*workerProc, killable)
	ids := make([]string, len(fleet))
	next := 0
	for i := range fleet {
		ids[i] = fmt.Sprintf("chaos-%d", next)
		fleet[i] = e.startWorker(t, workerArgs(ids[i])...)
		next++
	}

	r := e.enqueue("submit", specPath)
	require.Zero(t, r.code, r.String())
	id := strings.TrimSpace(r.stdout)

	kills := map[string]time.Time{} // worker id -> when it was killed
	deadline := time.Now().Add(4 * time.Minute)
	for victim := 0; ; victim = (victim + 1) % len(fleet) {
		// One read: two reads could see pending, then running, and stop
		// the chaos before it began (it did, in CI).
		if st := workflowStatus(t, e.Pool, id); st != "running" && st != "pending" {
			break
		}
		require.True(t, time.Now().Before(deadline), "workflow did not finish within 4 minutes (%d kills)", len(kills))
		time.Sleep(2 * time.Second)
		if workflowStatus(t, e.Pool, id) == "completed" {
			break
		}
		var running int
		require.NoError(t, e.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'running' AND queue = 'default'`).Scan(&running))
		fleet[victim].kill()
		fleet[victim].wait(10 * time.Second)
		kills[ids[victim]] = time.Now()
		t.Logf("killed %s with %d default-queue jobs running fleet-wide", ids[victim], running)
		ids[victim] = fmt.Sprintf("chaos-%d", next)
		fleet[victim] = e.startWorker(t, workerArgs(ids[victim])...)
		next++
	}
	require.Equal(t, "completed", workflowStatus(t, e.Pool, id))
	require.GreaterOrEqual(t, len(kills), 2, "the workflow finished before the chaos began; make it longer")

	checkDoneOnce(t, e.Pool, id, leaves)
	checkNoEarlyStart(t, e.Pool, id)

	// Jobs held by a killed worker were handed back within seconds.
	rows, err := e.Pool.Query(ctx, `
SELECT substring(err->>'error' from 'worker (\S+) died'), (err->>'at')::timestamptz
FROM river_job j, unnest(j.errors) AS err
WHERE err->>'error' LIKE '%died (no heartbeat)%'`)
	require.NoError(t, err)
	type rescue struct {
		Worker string
		At     time.Time
	}
	rescues, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rescue])
	require.NoError(t, err)
	require.NotEmpty(t, rescues, "no job was handed back by the heartbeat sweep")
	for _, r := range rescues {
		killedAt, ok := kills[r.Worker]
		require.True(t, ok, "job handed back from %s, which was never killed", r.Worker)
		require.Less(t, r.At.Sub(killedAt), chaosRescueBound, "job of %s handed back %s after the kill", r.Worker, r.At.Sub(killedAt))
	}
	t.Logf("%d kills, %d jobs handed back", len(kills), len(rescues))

	// The long job on the steady worker ran once, though it ran for four
	// times dead-after while sweeps were handing back other jobs.
	var attempts int
	require.NoError(t, e.Pool.QueryRow(ctx, `SELECT attempts FROM qf_node WHERE workflow_id = $1 AND path = 'long'`, id).Scan(&attempts))
	require.Equal(t, 1, attempts)
}

// TestChaosRestartPostgres restarts PostgreSQL (a private server of the
// test's own) while two workers run a workflow: they reconnect on their own
// and finish it, without being restarted.
func TestChaosRestartPostgres(t *testing.T) {
	t.Parallel()
	srv := startPrivatePostgres(t)
	e := newEnvAt(t, srv.url)
	ctx := context.Background()
	specPath, leaves := chaosSpec(t, 10, 98, 10)

	w1 := e.startWorker(t, "--id", "pg-1", "--queues", "default=20,long=1")
	w2 := e.startWorker(t, "--id", "pg-2", "--queues", "default=20,long=1")
	r := e.enqueue("submit", specPath)
	require.Zero(t, r.code, r.String())
	id := strings.TrimSpace(r.stdout)

	waitFor(t, time.Minute, "a fifth of the workflow", func() bool {
		var done int
		require.NoError(t, e.Pool.QueryRow(ctx, `SELECT count(*) FROM qf_node WHERE workflow_id = $1 AND state = 'completed'`, id).Scan(&done))
		return done > leaves/5
	})
	srv.stop(t)
	time.Sleep(3 * time.Second) // the outage
	srv.start(t)

	// The test's own pool reconnects too; poll until the workflow is final.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var status string
		if err := e.Pool.QueryRow(ctx, `SELECT status FROM qf_workflow WHERE id = $1`, id).Scan(&status); err == nil && status != "running" && status != "pending" {
			break
		}
		if time.Now().After(deadline) {
			logUnfinishedJobs(t, e.Pool)
			t.Fatal("the workflow did not finish within 2 minutes of the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, "completed", workflowStatus(t, e.Pool, id))
	require.Contains(t, w1.stderr()+w2.stderr(), "flow: heartbeat failed", "the workers should have seen the outage")
	for _, w := range []*workerProc{w1, w2} {
		select {
		case <-w.done:
			t.Fatalf("worker exited during the restart (code %d)", w.code)
		default:
		}
	}
	checkDoneOnce(t, e.Pool, id, leaves)
	checkNoEarlyStart(t, e.Pool, id)
}

// TestSigtermHandsBackJobs sends SIGTERM to a worker running short and long
// sleep jobs: it exits 0 within its grace period (plus the cancel bound),
// the short jobs finish there, and the long ones finish on another worker.
func TestSigtermHandsBackJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// The short jobs need well under the grace period even on a loaded
	// machine; the long ones far more.
	const grace = 3 * time.Second
	a := e.startWorker(t, "--id", "term-a", "--shutdown-grace", grace.String())

	spec := "name: term\nnodes:\n"
	for i := 0; i < 4; i++ {
		spec += fmt.Sprintf("  - {id: short%d, kind: sleep, args: {ms: 200}}\n  - {id: long%d, kind: sleep, args: {ms: 10000}}\n", i, i)
	}
	r := e.enqueueStdin(spec, "submit", "-")
	require.Zero(t, r.code, r.String())
	id := strings.TrimSpace(r.stdout)
	waitFor(t, 30*time.Second, "the four long jobs running", func() bool {
		var n int
		require.NoError(t, e.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'running' AND metadata->>'qf_path' LIKE 'long%'`).Scan(&n))
		return n == 4
	})

	start := time.Now()
	a.signal(syscall.SIGTERM)
	require.Zero(t, a.wait(grace+10*time.Second), "exit code after SIGTERM:\n%s", a.stderr())
	require.Less(t, time.Since(start), grace+6*time.Second, "worker took too long to stop")

	e.startWorker(t, "--id", "term-b")
	waitFor(t, time.Minute, "the workflow to finish on the second worker", func() bool {
		return workflowStatus(t, e.Pool, id) != "running"
	})
	require.Equal(t, "completed", workflowStatus(t, e.Pool, id))
	rows, err := e.Pool.Query(ctx, `
SELECT j.metadata->>'qf_path', j.attempted_by
FROM river_job j WHERE j.metadata->>'qf_wf' = $1 ORDER BY 1`, id)
	require.NoError(t, err)
	type jobRow struct {
		Path string
		By   []string
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[jobRow])
	require.NoError(t, err)
	require.Len(t, jobs, 8)
	for _, j := range jobs {
		if strings.HasPrefix(j.Path, "short") {
			require.Equal(t, []string{"term-a"}, j.By, "%s should have finished on the stopping worker", j.Path)
		} else {
			require.Equal(t, []string{"term-a", "term-b"}, j.By, "%s should have been handed to the second worker", j.Path)
		}
	}
}

// workflowStatus reads a workflow's status.
func workflowStatus(t *testing.T, pool *pgxpool.Pool, id string) string {
	t.Helper()
	var status string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT status FROM qf_workflow WHERE id = $1`, id).Scan(&status))
	return status
}

// checkDoneOnce checks that every leaf of the workflow completed and was
// released exactly once: one River job per leaf (a second release would
// insert a second job), completed, and the node's job_id is that job.
func checkDoneOnce(t *testing.T, pool *pgxpool.Pool, id string, leaves int) {
	t.Helper()
	var total, completed, oneJob int
	require.NoError(t, pool.QueryRow(context.Background(), `
WITH per_node AS (
    SELECT q.idx, q.state, q.job_id,
           count(j.id) AS jobs,
           count(j.id) FILTER (WHERE j.state = 'completed' AND j.id = q.job_id) AS completed_jobs
    FROM qf_node q
    LEFT JOIN river_job j ON j.metadata @> jsonb_build_object('qf_wf', q.workflow_id::text)
                         AND (j.metadata->>'qf_n')::int = q.idx
    WHERE q.workflow_id = $1 AND q.kind IS NOT NULL
    GROUP BY q.idx, q.state, q.job_id
)
SELECT count(*), count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE jobs = 1 AND completed_jobs = 1)
FROM per_node`, id).Scan(&total, &completed, &oneJob))
	require.Equal(t, leaves, total, "leaves")
	require.Equal(t, leaves, completed, "completed leaves")
	require.Equal(t, leaves, oneJob, "leaves with exactly one River job, completed")
}

// checkNoEarlyStart checks, from River's job timestamps, that no leaf's job
// started (attempted_at of its last attempt; earlier attempts started even
// earlier but after the job was inserted, which the release did) before
// every leaf it waits for had finished (finalized_at). Waiting covers direct
// deps, a group's deps for its members, and a group's members for the
// group's dependents.
func checkNoEarlyStart(t *testing.T, pool *pgxpool.Pool, id string) {
	t.Helper()
	var edges, early int
	require.NoError(t, pool.QueryRow(context.Background(), `
WITH leaf_jobs AS (
    SELECT q.idx, j.attempted_at, j.finalized_at, j.created_at
    FROM qf_node q JOIN river_job j ON j.id = q.job_id
    WHERE q.workflow_id = $1 AND q.kind IS NOT NULL
), edges AS (
    SELECT c.idx AS child, p AS parent
    FROM qf_node c, unnest(c.deps) AS p
    WHERE c.workflow_id = $1
    UNION
    SELECT m.idx, p
    FROM qf_node m JOIN qf_node g ON g.workflow_id = m.workflow_id AND g.idx = m.parent_idx, unnest(g.deps) AS p
    WHERE m.workflow_id = $1
), leaf_edges AS (
    -- a dep that is a group stands for its members
    SELECT e.child, coalesce(m.idx, e.parent) AS parent
    FROM edges e
    LEFT JOIN qf_node m ON m.workflow_id = $1 AND m.parent_idx = e.parent
)
SELECT count(*), count(*) FILTER (WHERE c.attempted_at < p.finalized_at)
FROM leaf_edges e JOIN leaf_jobs c ON c.idx = e.child JOIN leaf_jobs p ON p.idx = e.parent`, id).Scan(&edges, &early))
	require.Positive(t, edges)
	require.Zero(t, early, "jobs started before a dep finished (of %d edges)", edges)
}

// privatePostgres is a PostgreSQL server of one test's own, started from the
// system's binaries by scripts/ensure-postgres.sh, so that the test may stop
// and start it.
type privatePostgres struct {
	url string
	env []string // QF_PG_DATA and QF_PG_PORT for the scripts
}

// startPrivatePostgres creates and starts the server; extraEnv goes to
// scripts/ensure-postgres.sh (QF_PG_MAX_CONNECTIONS=N, say).
func startPrivatePostgres(t *testing.T, extraEnv ...string) *privatePostgres {
	t.Helper()
	// The server runs as the postgres user when we are root: the folder
	// must be reachable by it, which t.TempDir's is not.
	dir, err := os.MkdirTemp("/var/tmp", "qf-e2e-pg-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	srv := &privatePostgres{env: append([]string{"QF_PG_DATA=" + filepath.Join(dir, "data"), fmt.Sprintf("QF_PG_PORT=%d", port)}, extraEnv...)}
	t.Cleanup(func() {
		srv.stop(t)
		_ = os.RemoveAll(dir)
	})
	srv.url = srv.start(t)
	return srv
}

// start starts the server (creating it the first time) and returns its URL.
func (p *privatePostgres) start(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(p.script(t, "ensure-postgres.sh"))
}

// stop stops the server (pg_ctl stop -m fast: sessions are cut off).
func (p *privatePostgres) stop(t *testing.T) {
	t.Helper()
	p.script(t, "stop-postgres.sh")
}

func (p *privatePostgres) script(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(moduleRoot, "scripts", name))
	cmd.Env = append(baseEnv(), p.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "scripts/%s: %s", name, stderr.String())
	return string(out)
}

// newEnvAt is newEnv on another server.
func newEnvAt(t *testing.T, serverURL string) *env {
	t.Helper()
	envSlots <- struct{}{}
	t.Cleanup(func() { <-envSlots })
	return &env{DB: pgtest.NewAt(t, serverURL), t: t}
}

// logUnfinishedJobs logs the River jobs that are not completed, to explain
// a workflow that does not finish.
func logUnfinishedJobs(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT id, state::text, attempt, attempted_by, metadata->>'qf_path', errors::text
FROM river_job WHERE state <> 'completed' ORDER BY id LIMIT 50`)
	if err != nil {
		t.Logf("list unfinished jobs: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Logf("list unfinished jobs: %v", err)
			return
		}
		t.Log(vals...)
	}
}
