package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// Issue 9: the connection budget of a worker on default flags, and a fleet
// that outgrows max_connections. Both tests run on a private PostgreSQL
// started by scripts/ensure-postgres.sh with the max_connections they need,
// so that they neither crowd the shared test server nor see its other
// clients in pg_stat_activity.

// privateServer starts a private cluster with max_connections
// (startPrivatePostgres) and migrates it; it is stopped and removed when the
// test ends.
func privateServer(t *testing.T, maxConns int) string {
	t.Helper()
	srv := startPrivatePostgres(t, "QF_PG_MAX_CONNECTIONS="+strconv.Itoa(maxConns))
	r := runEnqueue(t, []string{"DATABASE_URL=" + srv.url}, nil, "migrate")
	require.Equal(t, 0, r.code, "migrate:\n%s", r)
	return srv.url
}

// startDefaultWorker starts the worker binary on url with its default
// flags: only a free metrics port (several run on one host) and JSON logs,
// neither of which tunes it. With waitListening it waits until the worker
// serves its address.
func startDefaultWorker(t *testing.T, url string, waitListening bool) *workerProc {
	t.Helper()
	w := startWorkerProc(t, url, "--metrics-addr", "127.0.0.1:0", "--log-format", "json")
	if waitListening {
		w.waitListening(t)
	}
	return w
}

// logLines are the worker's JSON log lines whose msg is msg.
func (w *workerProc) logLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(w.stderr()))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// wideSpecFile writes root → n noop leaves → join as a JSON spec.
func wideSpecFile(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"name": "wide-budget", "nodes": [{"id": "root", "kind": "noop"}`)
	for i := range n {
		fmt.Fprintf(&b, `, {"id": "w%d", "kind": "noop", "deps": ["root"]}`, i)
	}
	b.WriteString(`, {"id": "join", "kind": "noop", "deps": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"w%d"`, i)
	}
	b.WriteString("]}]}")
	return writeFile(t, "wide.json", b.String())
}

// connSampler counts the workers' sessions (application_name
// quantumflow-worker) every 20 ms on a connection of its own.
type connSampler struct {
	peak, last atomic.Int64
	stop       chan struct{}
	done       chan struct{}
}

func sampleWorkerConns(t *testing.T, url string) *connSampler {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	s := &connSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer conn.Close(context.Background())
		for {
			var n int64
			if err := conn.QueryRow(context.Background(),
				`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'quantumflow-worker'`).Scan(&n); err == nil {
				s.last.Store(n)
				if n > s.peak.Load() {
					s.peak.Store(n)
				}
			}
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *connSampler) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// workflowDone reports whether workflow id is completed (failing the test
// if it ended otherwise).
func workflowDone(t *testing.T, conn *pgx.Conn, id string) bool {
	t.Helper()
	var status string
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT status FROM qf_workflow WHERE id = $1`, id).Scan(&status))
	require.Contains(t, []string{"pending", "running", "completed"}, status)
	return status == "completed"
}

// checkExactlyOnce checks that every node of workflow id completed, each
// with exactly one River job.
func checkExactlyOnce(t *testing.T, conn *pgx.Conn, id string, leaves int) {
	t.Helper()
	ctx := context.Background()
	var nodes, completed int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'completed') FROM qf_node
		WHERE workflow_id = $1 AND kind IS NOT NULL`, id).Scan(&nodes, &completed))
	require.Equal(t, leaves, nodes)
	require.Equal(t, leaves, completed, "every node completed")
	var jobs, distinct, jobsCompleted, retried int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT metadata->>'qf_n'),
			count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE attempt > 1)
		FROM river_job WHERE metadata->>'qf_wf' = $1`, id).Scan(&jobs, &distinct, &jobsCompleted, &retried))
	require.Equal(t, leaves, jobs, "one River job per node")
	require.Equal(t, leaves, distinct, "no node has two jobs")
	require.Equal(t, leaves, jobsCompleted)
	t.Logf("%d nodes, %d jobs, %d of them ran more than once (a rescue after a missed heartbeat)", nodes, jobs, retried)
}

// budgetOf reads the worker's logged connection budget (peak, idle).
func budgetOf(t *testing.T, w *workerProc) (peak, idle int) {
	t.Helper()
	lines := w.logLines("connection budget")
	require.NotEmpty(t, lines, "the worker logs its connection budget:\n%s", w.stderr())
	return int(lines[0]["peak"].(float64)), int(lines[0]["idle"].(float64))
}

// TestFleetConnectionBudget runs a fleet of workers on default flags on a
// wide workflow and samples pg_stat_activity: the fleet's peak stays within
// workers × the logged peak budget, enqueue status and list succeed all
// along, the workflow completes with one job per node, and once it is done
// the fleet's connections fall to workers × the idle budget.
//
// Issue 9 asks for 10 workers and 20 000 nodes; on a 2-core CI machine
// that takes about 15 s of work, so it runs at that size.
func TestFleetConnectionBudget(t *testing.T) {
	const (
		workers = 10
		leaves  = 20_000 + 2
	)
	envSlots <- struct{}{}
	t.Cleanup(func() { <-envSlots })
	url := privateServer(t, 150)
	spec := wideSpecFile(t, leaves-2)

	fleet := make([]*workerProc, workers)
	for i := range fleet {
		fleet[i] = startDefaultWorker(t, url, false)
	}
	for _, w := range fleet {
		w.waitListening(t)
	}
	peakBudget, idleBudget := budgetOf(t, fleet[0])
	t.Logf("budget per worker: peak %d, idle %d", peakBudget, idleBudget)
	sampler := sampleWorkerConns(t, url)

	r := runEnqueue(t, []string{"DATABASE_URL=" + url}, nil, "submit", spec)
	require.Equal(t, 0, r.code, "submit:\n%s", r)
	id := strings.TrimSpace(r.stdout)

	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	start := time.Now()
	calls := 0
	for !workflowDone(t, conn, id) {
		require.Less(t, time.Since(start), 90*time.Second, "workflow not done")
		for _, args := range [][]string{{"status", id}, {"list"}} {
			r := runEnqueue(t, []string{"DATABASE_URL=" + url}, nil, args...)
			require.Equal(t, 0, r.code, "enqueue %s during the run:\n%s", args[0], r)
			calls++
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("workflow done in %s; %d enqueue calls during the run succeeded; fleet peak %d connections (budget %d × %d = %d)",
		time.Since(start).Round(time.Millisecond), calls, sampler.peak.Load(), workers, peakBudget, workers*peakBudget)
	require.LessOrEqual(t, sampler.peak.Load(), int64(workers*peakBudget), "fleet peak within workers × peak budget")
	checkExactlyOnce(t, conn, id, leaves)

	// Idle: within the idle timeout (and the pool's one-second check) the
	// fleet falls to workers × idle.
	idleLine := fleet[0].logLines("connection budget")[0]
	idleTimeout, err := time.ParseDuration(fmt.Sprint(time.Duration(idleLine["idle_timeout"].(float64))))
	require.NoError(t, err)
	done := time.Now()
	lastLog := time.Now()
	waitFor(t, idleTimeout+20*time.Second, fmt.Sprintf("fleet connections to fall to %d × %d", workers, idleBudget), func() bool {
		if time.Since(lastLog) >= time.Second {
			t.Logf("fleet connections %s after the end: %d", time.Since(done).Round(time.Second), sampler.last.Load())
			lastLog = time.Now()
		}
		return sampler.last.Load() <= int64(workers*idleBudget)
	})
	t.Logf("fleet idle at %d connections %s after the workflow finished", sampler.last.Load(), time.Since(done).Round(100*time.Millisecond))
}

// holdConns opens connections to url until the server refuses one (too
// many clients) and returns them; close them to free the slots.
func holdConns(t *testing.T, url string) []*pgx.Conn {
	t.Helper()
	var held []*pgx.Conn
	for range 500 {
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr, "want the server to refuse: %v", err)
			require.Equal(t, "53300", pgErr.Code)
			return held
		}
		held = append(held, c)
	}
	t.Fatal("the server accepted 500 connections")
	return nil
}

// TestFleetRefusedConnections runs a fleet on default flags against a
// server whose max_connections is too small for it. While every slot is
// taken, enqueue fails after retrying with a message naming max_connections,
// and workers wait to start, saying why; once slots free up, the workers
// start, an enqueue that was waiting goes through, and the workflow
// completes with every node exactly once (one River job per node) although
// the fleet's pools keep hitting the limit.
func TestFleetRefusedConnections(t *testing.T) {
	const (
		workers  = 3
		leaves   = 3000 + 2
		maxConns = 12 // the fleet's budget is workers × 10
	)
	envSlots <- struct{}{}
	t.Cleanup(func() { <-envSlots })
	url := privateServer(t, maxConns)
	spec := wideSpecFile(t, leaves-2)

	held := holdConns(t, url)
	release := func() {
		for _, c := range held {
			_ = c.Close(context.Background())
		}
		held = nil
	}
	t.Cleanup(release)

	// enqueue retries within --timeout, then names the cause and the fix.
	r := runEnqueue(t, []string{"DATABASE_URL=" + url}, nil, "--timeout", "2s", "list")
	require.Equal(t, 1, r.code, "%s", r)
	for _, want := range []string{"53300", "max_connections", "--pool-max-conns", "pooler"} {
		require.Contains(t, r.stderr, want, "%s", r)
	}

	// Workers started now wait and say why.
	fleet := make([]*workerProc, workers)
	for i := range fleet {
		fleet[i] = startDefaultWorker(t, url, false)
	}
	for _, w := range fleet {
		waitFor(t, 20*time.Second, "the worker to report the refusal", func() bool {
			for _, l := range w.logLines("database refused the connection; waiting to start") {
				if strings.Contains(fmt.Sprint(l["hint"]), "max_connections") && l["sqlstate"] == "53300" {
					return true
				}
			}
			return false
		})
		require.Empty(t, w.logLines("worker failed"))
	}

	// An enqueue started while the server is full goes through once slots
	// free up.
	var (
		submitted result
		wg        sync.WaitGroup
	)
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, enqueueBin, "submit", spec)
		cmd.Env = append(baseEnv(), "DATABASE_URL="+url)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		submitted = result{stdout: stdout.String(), stderr: stderr.String()}
		if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
			submitted.code = exitErr.ExitCode()
		} else if err != nil {
			submitted.code = -1
		}
	})
	time.Sleep(1500 * time.Millisecond)
	release()
	wg.Wait()
	require.Equal(t, 0, submitted.code, "submit:\n%s", submitted)
	require.Contains(t, submitted.stderr, "database refused the connection; retrying", "%s", submitted)
	id := strings.TrimSpace(submitted.stdout)

	for _, w := range fleet {
		w.waitListening(t)
	}
	var conn *pgx.Conn
	waitFor(t, 30*time.Second, "a connection for the test", func() bool {
		c, err := pgx.Connect(context.Background(), url)
		conn = c
		return err == nil
	})
	defer conn.Close(context.Background())
	start := time.Now()
	for !workflowDone(t, conn, id) {
		require.Less(t, time.Since(start), 90*time.Second, "workflow not done")
		time.Sleep(100 * time.Millisecond)
	}
	refusedRunning := 0
	for _, w := range fleet {
		refusedRunning += len(w.logLines("database refused a connection; retrying"))
		require.Empty(t, w.logLines("worker failed"))
	}
	t.Logf("workflow done in %s; refusals logged by running workers: %d", time.Since(start).Round(time.Millisecond), refusedRunning)
	checkExactlyOnce(t, conn, id, leaves)
}
