package ingest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/jobs"
	ingestjobs "github.com/quantumflow/quantumflow/jobs/ingest"
)

// env is a schema with a worker running the ingestion kinds in this
// process.
type env struct {
	t      *testing.T
	db     *pgtest.DB
	client *flow.Client
	worker *flow.Worker
}

func newEnv(t *testing.T, cfg ingestjobs.Config) *env {
	t.Helper()
	db := pgtest.New(t)
	ctx := context.Background()
	client, err := flow.NewClient(db.Pool, nil)
	require.NoError(t, err)
	workers := river.NewWorkers()
	require.NoError(t, jobs.Register(workers))
	if cfg.Embedder == nil {
		def, err := ingestjobs.ConfigFromEnv()
		require.NoError(t, err)
		cfg.Embedder = def.Embedder
	}
	cfg.Pool = db.Pool
	require.NoError(t, ingestjobs.Register(workers, cfg))
	w, err := client.StartWorker(ctx, &flow.WorkerConfig{
		River: &river.Config{
			Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 20}},
			Workers: workers,
		},
		Kinds: append(jobs.Kinds(), ingestjobs.Kinds()...),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Stop(stopCtx); err != nil {
			_ = w.StopAndCancel(context.Background())
		}
	})
	return &env{t: t, db: db, client: client, worker: w}
}

// ingest submits a run and waits until its workflow is final.
func (e *env) ingest(opts ingest.Options) (*ingest.Run, flowtype.WorkflowState) {
	e.t.Helper()
	run, err := ingest.Submit(context.Background(), e.client, opts)
	require.NoError(e.t, err)
	return run, e.wait(run.ID)
}

func (e *env) wait(id string) flowtype.WorkflowState {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := e.client.Progress(context.Background(), id)
		require.NoError(e.t, err)
		if p.Status.IsFinal() {
			if p.Status != flowtype.WorkflowCompleted {
				for _, r := range e.query(`SELECT path, state, coalesce(error, '') AS error FROM qf_node WHERE workflow_id = $1 AND state IN ('failed', 'cancelled') ORDER BY idx LIMIT 10`, id) {
					e.t.Logf("node %v %v: %v", r["path"], r["state"], r["error"])
				}
			}
			return p.Status
		}
		if time.Now().After(deadline) {
			st, _ := e.client.Status(context.Background(), id)
			e.t.Fatalf("run %s not final after 2m: %+v", id, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nodes counts the nodes of a workflow.
func (e *env) nodes(id string) int {
	e.t.Helper()
	p, err := e.client.Progress(context.Background(), id)
	require.NoError(e.t, err)
	return p.Nodes
}

// query returns the rows of sql as maps.
func (e *env) query(sql string, args ...any) []map[string]any {
	e.t.Helper()
	rows, err := e.db.Pool.Query(context.Background(), sql, args...)
	require.NoError(e.t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToMap)
	require.NoError(e.t, err)
	return out
}

// scalar returns the one value of sql.
func scalar[T any](e *env, sql string, args ...any) T {
	e.t.Helper()
	var v T
	require.NoError(e.t, e.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&v), sql)
	return v
}

// writeTree writes files (path → content) under a new temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		write(t, root, p, c)
	}
	return root
}

func write(t *testing.T, root, p, content string) {
	t.Helper()
	full := filepath.Join(root, filepath.FromSlash(p))
	require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
	require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
}

// listen subscribes to the notification channel on a connection of its
// own and returns a function that waits for the next notification.
func listen(t *testing.T, db *pgtest.DB) func(run string) ingest.Notification {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{ingest.NotifyChannel}.Sanitize())
	require.NoError(t, err)
	// Channels are per database: other tests' schemas notify on the same
	// channel, so only the run asked for counts.
	return func(run string) ingest.Notification {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		for {
			n, err := conn.WaitForNotification(wctx)
			require.NoError(t, err)
			require.Equal(t, ingest.NotifyChannel, n.Channel)
			var out ingest.Notification
			require.NoError(t, json.Unmarshal([]byte(n.Payload), &out), n.Payload)
			if out.Run == run {
				require.Equal(t, db.Schema, out.Schema)
				return out
			}
		}
	}
}
