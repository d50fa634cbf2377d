package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/internal/syncio"
	"github.com/quantumflow/quantumflow/jobs"
	ingestjobs "github.com/quantumflow/quantumflow/jobs/ingest"
)

// workerRun is one in-process run of the worker command.
type workerRun struct {
	stdout, stderr *syncio.Buffer
	signals        chan os.Signal
	cancel         context.CancelFunc
	done           chan int // the exit code
}

// startWorker runs the worker command line in-process against db.
func startWorker(t *testing.T, db *pgtest.DB, args ...string) *workerRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &workerRun{stdout: &syncio.Buffer{}, stderr: &syncio.Buffer{}, signals: make(chan os.Signal, 3), cancel: cancel, done: make(chan int, 1)}
	common := []string{"--database-url", db.URL, "--log-format", "json"}
	if len(args) > 0 && args[0] == "migrate" {
		args = append(append([]string{"migrate"}, common...), args[1:]...)
	} else {
		args = append(append(common, "--pool-max-conns", "6", "--heartbeat-interval", "100ms", "--dead-after", "1s"), args...)
	}
	p := &proc{
		args:    args,
		getenv:  func(string) string { return "" },
		stdout:  w.stdout,
		stderr:  w.stderr,
		signals: w.signals,
		newID:   defaultID,
	}
	go func() { w.done <- execute(ctx, p, actions{run: runWorker, migrate: runMigrate}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(30 * time.Second):
			t.Errorf("worker did not stop after its context was cancelled")
		}
	})
	return w
}

// exitCode waits for the run to end.
func (w *workerRun) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case code := <-w.done:
		w.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("worker still running; stderr:\n%s", w.stderr)
		return -1
	}
}

// logLine waits for the JSON log line with msg and returns it.
func (w *workerRun) logLine(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sc := bufio.NewScanner(strings.NewReader(w.stderr.String()))
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
				return line
			}
		}
		select {
		case code := <-w.done:
			w.done <- code
			t.Fatalf("worker exited (%d) without logging %q; stderr:\n%s", code, msg, w.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q; stderr:\n%s", msg, w.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// get fetches url and returns the status code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// waitStatus polls url until it answers code, returning the body.
func waitStatus(t *testing.T, url string, code int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, body := get(t, url)
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %q, want %d", url, got, body, code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// submit submits a spec through a flow client on db.
func submit(t *testing.T, db *pgtest.DB, spec string) (*flow.Client, string) {
	t.Helper()
	client, err := flow.NewClient(db.Pool, nil)
	require.NoError(t, err)
	s, err := dag.ParseBytes([]byte(spec))
	require.NoError(t, err)
	res, err := client.Submit(context.Background(), s, nil)
	require.NoError(t, err)
	return client, res.ID
}

// workerDead reports whether the worker's qf_worker row is marked dead.
func workerDead(t *testing.T, db *pgtest.DB, id string) bool {
	t.Helper()
	var dead bool
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`SELECT dead_at IS NOT NULL FROM qf_worker WHERE id = $1`, id).Scan(&dead))
	return dead
}

func TestRunMigratesServesAndStops(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmpty(t)
	w := startWorker(t, db, "--migrate", "--metrics-addr", "127.0.0.1:0", "--queues", "default=4,other=2")

	addr, ok := w.logLine(t, "listening")["addr"].(string)
	require.True(t, ok, "listening line has a string addr")
	base := "http://" + addr
	started := w.logLine(t, "worker started")
	id, _ := started["id"].(string)
	require.NotEmpty(t, id)
	require.Equal(t, "default=4,other=2", started["queues"])
	require.Equal(t, db.Schema, started["schema"])
	require.Equal(t, cliutil.ReadBuild().Version(), started["version"])

	require.Equal(t, "ok\n", waitStatus(t, base+"/healthz", http.StatusOK))
	require.Equal(t, "ok\n", waitStatus(t, base+"/readyz", http.StatusOK))

	// The worker works a workflow; the metrics show it.
	client, wfID := submit(t, db, `
name: worker-run
nodes:
  - {id: a, kind: noop}
  - {id: b, kind: echo, deps: [a]}
`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := client.Status(context.Background(), wfID)
		require.NoError(t, err)
		if st.Status == "completed" {
			break
		}
		require.True(t, time.Now().Before(deadline), "workflow not completed: %s", st.Status)
		time.Sleep(20 * time.Millisecond)
	}
	// Poll until every line is there: the workflow's last job is counted
	// after the observer heard that the workflow finished.
	wants := []string{
		`quantumflow_workflows_finished_total{status="completed"} 1`,
		`quantumflow_worker_info{id="` + id + `",version="` + cliutil.ReadBuild().Version() + `"} 1`,
		`quantumflow_jobs_worked_total{kind="noop",outcome="completed"} 1`,
		`quantumflow_jobs_worked_total{kind="echo",outcome="completed"} 1`,
		`quantumflow_jobs_worked_total{kind="sleep",outcome="completed"} 0`,
		`quantumflow_nodes_released_total 1`,
		`quantumflow_queue_max_workers{queue="other"} 2`,
		`quantumflow_jobs_running{queue="default"} 0`,
		`quantumflow_job_duration_seconds_bucket{kind="noop",le="0.001"}`,
		`quantumflow_dead_workers_total 0`,
		`quantumflow_db_collector_up 1`, // --db-metrics=auto: the lone worker leads
		`quantumflow_workflows{status="running"} 0`,
		`quantumflow_queue_jobs{queue="other",state="available"} 0`,
		`quantumflow_workflow_duration_seconds_count{outcome="completed"} 1`,
		`quantumflow_job_wait_seconds_count{queue="default"} 2`,
		`quantumflow_node_promotion_seconds_count{queue="default"} 2`,
		"go_goroutines ",
	}
	for {
		_, body := get(t, base+"/metrics")
		missing := ""
		for _, want := range wants {
			if !strings.Contains(body, want) {
				missing = want
				break
			}
		}
		if missing == "" {
			break
		}
		require.True(t, time.Now().Before(deadline), "metrics lack %s:\n%s", missing, body)
		time.Sleep(20 * time.Millisecond)
	}

	// The worker registered its kinds and joined the fleet under its id.
	var kinds int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM qf_kind`).Scan(&kinds))
	require.Equal(t, len(jobs.Kinds())+len(ingestjobs.Kinds()), kinds, "the built-in and the ingestion kinds (--ingest is on by default)")
	require.False(t, workerDead(t, db, id))

	// Cancelling the context is a graceful stop: exit 0, fleet left.
	w.cancel()
	require.Equal(t, cliutil.ExitOK, w.exitCode(t), w.stderr.String())
	w.logLine(t, "worker stopped")
	require.True(t, workerDead(t, db, id), "the worker left the fleet")
	_, err := http.Get(base + "/healthz")
	require.Error(t, err, "the HTTP server is closed")
}

// runningSleepJob submits a workflow of one long sleep node and waits until
// its job is running; it returns the job's id.
func runningSleepJob(t *testing.T, db *pgtest.DB) int64 {
	t.Helper()
	submit(t, db, `
name: long-sleep
nodes:
  - {id: s, kind: sleep, args: {ms: 600000}, max_attempts: 3, timeout: 20m}
`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var id int64
		err := db.Pool.QueryRow(context.Background(), `SELECT id FROM river_job WHERE kind = 'sleep' AND state = 'running'`).Scan(&id)
		if err == nil {
			return id
		}
		require.True(t, time.Now().Before(deadline), "sleep job never ran: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}

// requireHandedBack checks that the job, interrupted by the shutdown, is
// available again with its attempt not counted and no error recorded.
func requireHandedBack(t *testing.T, db *pgtest.DB, jobID int64) {
	t.Helper()
	var state, dump string
	var attempt, errs int
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`SELECT state, attempt, coalesce(array_length(errors, 1), 0), row_to_json(j)::text FROM river_job j WHERE id = $1`,
		jobID).Scan(&state, &attempt, &errs, &dump))
	require.Equal(t, "available", state, dump)
	require.Zero(t, attempt, dump)
	require.Zero(t, errs, dump)
}

func TestRunSecondSignalCancelsRunningJobs(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := startWorker(t, db, "--metrics-addr", "127.0.0.1:0", "--shutdown-grace", "10m")
	base := "http://" + w.logLine(t, "listening")["addr"].(string)
	id := w.logLine(t, "worker started")["id"].(string)
	waitStatus(t, base+"/readyz", http.StatusOK)
	jobID := runningSleepJob(t, db)

	w.signals <- syscall.SIGTERM
	w.logLine(t, "signal received; shutting down")
	// Within the grace the job keeps running, the process is alive but
	// not ready.
	require.Equal(t, "shutting down\n", waitStatus(t, base+"/readyz", http.StatusServiceUnavailable))
	code, _ := get(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code)
	var state string
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE id = $1`, jobID).Scan(&state))
	require.Equal(t, "running", state)

	w.signals <- syscall.SIGINT
	require.Equal(t, cliutil.ExitOK, w.exitCode(t), w.stderr.String())
	w.logLine(t, "another signal; not waiting any longer")
	requireHandedBack(t, db, jobID)
	require.True(t, workerDead(t, db, id))
}

func TestRunGraceExpiryCancelsRunningJobs(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := startWorker(t, db, "--metrics-addr", "off", "--shutdown-grace", "100ms")
	w.logLine(t, "worker started")
	jobID := runningSleepJob(t, db)

	w.signals <- syscall.SIGTERM
	require.Equal(t, cliutil.ExitOK, w.exitCode(t), w.stderr.String())
	w.logLine(t, "running jobs did not finish within the shutdown grace; cancelling them")
	requireHandedBack(t, db, jobID)
}

func TestRunWithoutSchemaThenMigrate(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmpty(t)
	w := startWorker(t, db, "--metrics-addr", "off")
	require.Equal(t, cliutil.ExitError, w.exitCode(t))
	failed := w.logLine(t, "worker failed")
	require.Contains(t, failed["error"], "run 'worker migrate' first")

	w = startWorker(t, db, "migrate", "-o", "json")
	require.Equal(t, cliutil.ExitOK, w.exitCode(t), w.stderr.String())
	var applied struct {
		River       []int `json:"river"`
		QuantumFlow []int `json:"quantumflow"`
	}
	require.NoError(t, json.Unmarshal([]byte(w.stdout.String()), &applied), w.stdout.String())
	require.NotEmpty(t, applied.River)
	require.NotEmpty(t, applied.QuantumFlow)

	w = startWorker(t, db, "migrate")
	require.Equal(t, cliutil.ExitOK, w.exitCode(t), w.stderr.String())
	require.Equal(t, "schema is up to date; nothing applied\n", w.stdout.String())
}

func TestRunListenFailureLeavesFleet(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	w := startWorker(t, db, "--metrics-addr", busy.Addr().String(), "--id", "listen-fails")
	require.Equal(t, cliutil.ExitError, w.exitCode(t))
	require.Contains(t, w.logLine(t, "worker failed")["error"], "--metrics-addr")
	require.True(t, workerDead(t, db, "listen-fails"), "the worker left the fleet it had joined")
}

func TestRunUnreachableDatabase(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback refuses connections at once.
	unreachable := &pgtest.DB{URL: "postgres://qf:s3cret@127.0.0.1:1/qf?sslmode=disable"}
	w := startWorker(t, unreachable, "--metrics-addr", "off")
	require.Equal(t, cliutil.ExitError, w.exitCode(t))
	failed := w.logLine(t, "worker failed")
	require.Contains(t, failed["error"], "connect to qf@127.0.0.1:1/qf")
	require.NotContains(t, w.stderr.String(), "s3cret")
}

func TestSchemaHint(t *testing.T) {
	t.Parallel()
	missing := fmt.Errorf("register kinds: %w", &pgconn.PgError{Code: "42P01", Message: `relation "qf_kind" does not exist`})
	require.ErrorContains(t, schemaHint(missing), "run 'worker migrate'")
	require.ErrorIs(t, schemaHint(missing), missing)
	other := fmt.Errorf("register kinds: %w", &pgconn.PgError{Code: "23505"})
	require.Equal(t, other, schemaHint(other))
}
