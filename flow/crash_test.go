package flow_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/jobs"
)

// The crash test runs workers in child processes: this test binary started
// again with QF_TEST_WORKER_URL set runs TestWorkerProcess, which works the
// workflow until it is killed.
const workerURLEnv = "QF_TEST_WORKER_URL"

// RecordArgs are the args of the test kind "record". Its worker writes a
// ledger row when an execution starts (autocommit) and one when it
// completes, in the transaction that completes the node (CompleteNodeTx), so
// the ledger shows every execution and every completion.
type RecordArgs struct {
	MS int `json:"ms"`
}

func (RecordArgs) Kind() string { return "record" }

type recordWorker struct {
	river.WorkerDefaults[RecordArgs]
	pool *pgxpool.Pool
}

func (w *recordWorker) Work(ctx context.Context, job *river.Job[RecordArgs]) error {
	node, _ := flow.NodeFromContext(ctx)
	if _, err := w.pool.Exec(ctx, `INSERT INTO qf_test_ledger (path, event, job_id, pid) VALUES ($1, 'start', $2, $3)`,
		node.Path, job.ID, os.Getpid()); err != nil {
		return err
	}
	select {
	case <-time.After(time.Duration(job.Args.MS) * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `INSERT INTO qf_test_ledger (path, event, job_id, pid) VALUES ($1, 'done', $2, $3)`,
		node.Path, job.ID, os.Getpid()); err != nil {
		return err
	}
	settled, err := flow.CompleteNodeTx(ctx, tx)
	if err != nil {
		return err
	}
	if !settled {
		return nil // a replay: roll back the ledger row
	}
	return tx.Commit(ctx)
}

// TestWorkerProcess is the body of a child worker process; it is skipped in
// a normal test run.
func TestWorkerProcess(t *testing.T) {
	url := os.Getenv(workerURLEnv)
	if url == "" {
		t.Skip("only runs as the crash test's child process")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = 10 // within pgtest's connection budget (see pgtest.MaxSchemas)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	client, err := flow.NewClient(pool, &flow.Config{ReconcileInterval: time.Second, ReconcileGrace: time.Second})
	require.NoError(t, err)
	workers := river.NewWorkers()
	require.NoError(t, jobs.Register(workers))
	river.AddWorker(workers, &recordWorker{pool: pool})
	// River's defaults for JobTimeout and RescueStuckJobsAfter (an hour):
	// the jobs a killed process held come back through the fleet's
	// heartbeat sweep, within DeadAfter.
	id := flow.NewWorkerID()
	member, err := client.NewMember(flow.MemberConfig{ID: id, HeartbeatInterval: 100 * time.Millisecond, DeadAfter: time.Second})
	require.NoError(t, err)
	require.NoError(t, member.Join(ctx))
	go member.Run(ctx) //nolint:errcheck
	rc, err := river.NewClient(riverpgxv5.New(pool), riverConfig(t, client, &river.Config{
		ID:      id,
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 20}},
		Workers: workers,
	}))
	require.NoError(t, err)
	require.NoError(t, rc.Start(ctx))
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = rc.StopAndCancel(stopCtx)
}

func startWorkerProcess(t *testing.T, url string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.v")
	cmd.Env = append(os.Environ(), workerURLEnv+"="+url)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// TestCrashResume kills a worker process with SIGKILL part-way through a
// workflow, between any two of its statements, then lets a fresh process
// finish it. Every node must end completed, be recorded done exactly once,
// and no node may start before all its deps completed.
func TestCrashResume(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	_, err := b.db.Pool.Exec(ctx, `
CREATE TABLE qf_test_ledger (
    path   text NOT NULL,
    event  text NOT NULL,
    job_id bigint NOT NULL,
    pid    int NOT NULL,
    at     timestamptz NOT NULL DEFAULT clock_timestamp()
)`)
	require.NoError(t, err)

	var spec strings.Builder
	spec.WriteString("name: crash\nnodes:\n  - {id: root, kind: record, args: {ms: 5}}\n")
	var mids []string
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&spec, "  - {id: m%d, kind: record, args: {ms: 40}, deps: [root], max_attempts: 5}\n", i)
		mids = append(mids, fmt.Sprintf("m%d", i))
	}
	fmt.Fprintf(&spec, "  - id: g\n    deps: [%s]\n    nodes:\n", strings.Join(mids, ", "))
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&spec, "      - {id: c%d, kind: record, args: {ms: 30}, max_attempts: 5}\n", i)
	}
	spec.WriteString("      - {id: tail, kind: record, args: {ms: 5}, deps: [c0, c1, c2]}\n")
	spec.WriteString("  - {id: join, kind: record, args: {ms: 5}, deps: [g]}\n")
	id := b.submitYAML(t, spec.String())

	first := startWorkerProcess(t, b.db.URL)
	// Kill it once part of the work is done and jobs are in flight.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var done int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM qf_test_ledger WHERE event = 'done'`).Scan(&done))
		if done >= 15 {
			break
		}
		require.True(t, time.Now().Before(deadline), "first worker made no progress")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()

	rows, err := b.db.Pool.Query(ctx, `SELECT id FROM river_job WHERE state = 'running'`)
	require.NoError(t, err)
	runningIDs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	t.Logf("killed the first worker with %d jobs running", len(runningIDs))

	startWorkerProcess(t, b.db.URL)
	// With River's own rescue (an hour) this would time out.
	st := b.waitFinished(t, id, time.Minute)
	require.EqualValues(t, "completed", st.Status)
	for _, n := range st.Nodes {
		require.EqualValues(t, "completed", n.State, n.ID)
	}

	// The jobs the killed process held were handed back by the heartbeat
	// sweep, except one whose COMMIT was already on its way when the
	// process died: that one completed on its first attempt.
	var notHandedBack []int64
	rows, err = b.db.Pool.Query(ctx, `
SELECT id FROM river_job
WHERE id = ANY($1)
  AND NOT EXISTS (SELECT 1 FROM unnest(errors) e WHERE e->>'error' LIKE '%died (no heartbeat)%')
  AND NOT (state = 'completed' AND attempt = 1)`, runningIDs)
	require.NoError(t, err)
	notHandedBack, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Empty(t, notHandedBack, "jobs running at the kill that the heartbeat sweep did not hand back")

	// Recorded done exactly once per leaf.
	rows, err = b.db.Pool.Query(ctx, `
SELECT q.path, count(l.*) FILTER (WHERE l.event = 'done')
FROM qf_node q LEFT JOIN qf_test_ledger l ON l.path = q.path
WHERE q.workflow_id = $1 AND q.kind IS NOT NULL
GROUP BY q.path`, id)
	require.NoError(t, err)
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Path string
		Done int
	}])
	require.NoError(t, err)
	require.Len(t, counts, 83)
	for _, c := range counts {
		require.Equal(t, 1, c.Done, "node %s recorded done %d times", c.Path, c.Done)
	}

	// No execution of a node started before each of its deps finished
	// (deps of a group's members include the group's deps). Both sides are
	// committed facts: a 'start' row commits on its own as the execution
	// begins, and a dep's finished_at is the start of the transaction that
	// settled it, so before its commit. (A 'done' row's time is not: it is
	// written inside the completing transaction, before it commits.)
	var early int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `
WITH edges AS (
    SELECT c.path AS child, p.path AS parent
    FROM qf_node c JOIN qf_node p ON p.workflow_id = c.workflow_id AND p.idx = ANY (c.deps)
    WHERE c.workflow_id = $1
    UNION ALL
    SELECT m.path, p.path
    FROM qf_node m
    JOIN qf_node g ON g.workflow_id = m.workflow_id AND g.idx = m.parent_idx
    JOIN qf_node p ON p.workflow_id = g.workflow_id AND p.idx = ANY (g.deps)
    WHERE m.workflow_id = $1
    UNION ALL
    SELECT c.path, m.path
    FROM qf_node c
    JOIN qf_node g ON g.workflow_id = c.workflow_id AND g.idx = ANY (c.deps) AND g.kind IS NULL
    JOIN qf_node m ON m.workflow_id = g.workflow_id AND m.parent_idx = g.idx
    WHERE c.workflow_id = $1
)
SELECT count(*)
FROM edges e
JOIN qf_node p ON p.workflow_id = $1 AND p.path = e.parent
JOIN qf_test_ledger s ON s.path = e.child AND s.event = 'start'
WHERE p.finished_at IS NULL OR s.at < p.finished_at`, id).Scan(&early))
	require.Zero(t, early, "executions started before their deps completed")
}
