package metrics_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/metrics"
)

// finishedJobs is how many completed jobs the plan test seeds into
// river_job: the collector must not read them.
const finishedJobs = 1_000_000

// seedCollectorData fills db the way a busy installation looks: a million
// finished River jobs and a few thousand live ones over five queues, 100 000
// finished workflows and some pending and running, a fleet with live and
// dead members, and a River leader. Each table in one statement, then
// VACUUM ANALYZE, as autovacuum would, so the visibility map lets
// index-only scans skip the heap.
func seedCollectorData(t *testing.T, db *pgtest.DB) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	for _, q := range []string{
		`INSERT INTO river_job (args, kind, max_attempts, queue, state, attempt, attempted_at, created_at, scheduled_at, finalized_at, metadata)
SELECT '{}', 'noop', 25, 'q' || (i % 5), 'completed', 1, now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour', now() - interval '59 minutes', '{}'
FROM generate_series(1, ` + strconv.Itoa(finishedJobs) + `) i`,
		`INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at, attempted_at, attempt)
SELECT '{}', 'noop', 25, 'q' || (i % 5),
       (ARRAY['available', 'available', 'available', 'scheduled', 'retryable', 'running', 'pending'])[1 + i % 7]::river_job_state,
       CASE WHEN i % 7 IN (3, 4) THEN now() + interval '1 hour' ELSE now() - (i || ' seconds')::interval END,
       CASE WHEN i % 7 = 5 THEN now() END, CASE WHEN i % 7 IN (4, 5) THEN 1 ELSE 0 END
FROM generate_series(1, 7000) i`,
		`INSERT INTO qf_workflow (id, name, spec_hash, status, node_count, remaining, created_at, started_at, finished_at)
SELECT gen_random_uuid(), 'seed', 'h', CASE WHEN i <= 300 THEN 'pending' WHEN i <= 1000 THEN 'running' ELSE 'completed' END,
       1, CASE WHEN i <= 1000 THEN 1 ELSE 0 END, now() - interval '1 hour', now() - interval '1 hour', CASE WHEN i > 1000 THEN now() END
FROM generate_series(1, 100000) i`,
		`INSERT INTO qf_worker (id, host, pid, dead_after_ms, dead_at)
SELECT 'w' || i, 'h', i, 5000, CASE WHEN i > 20 THEN now() END FROM generate_series(1, 220) i`,
		`INSERT INTO river_leader (leader_id, elected_at, expires_at) VALUES ('the-leader', now(), now() + interval '1 hour')`,
	} {
		_, err := db.Pool.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	for _, table := range []string{"river_job", "qf_workflow", "qf_worker", "river_leader"} {
		_, err := db.Pool.Exec(ctx, "VACUUM ANALYZE "+table)
		require.NoError(t, err)
	}
	t.Logf("seeded in %s", time.Since(start).Round(time.Millisecond))
}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType  string     `json:"Node Type"`
	IndexName string     `json:"Index Name"`
	Relation  string     `json:"Relation Name"`
	HeapFetch *float64   `json:"Heap Fetches"`
	Plans     []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

// TestDBCollectorQueryPlans runs EXPLAIN ANALYZE on every statement of the
// database collector, under the settings of its transaction, with a million
// finished jobs in river_job: no statement may scan a table sequentially or
// take 50 ms.
func TestDBCollectorQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	seedCollectorData(t, db)

	names := make([]string, 0, len(metrics.DBQueries))
	for name := range metrics.DBQueries {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		q := metrics.DBQueries[name]
		var raw []byte
		err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			setup, timeout := metrics.DBSetup(metrics.DBCollectTimeout)
			if _, err := tx.Exec(ctx, setup, timeout); err != nil {
				return err
			}
			// Once to warm the cache, as every scrape after the first.
			if _, err := tx.Exec(ctx, "EXPLAIN (ANALYZE) "+q); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+q).Scan(&raw)
		})
		require.NoError(t, err, name)
		var plans []struct {
			Plan          planNode `json:"Plan"`
			ExecutionTime float64  `json:"Execution Time"`
			PlanningTime  float64  `json:"Planning Time"`
		}
		require.NoError(t, json.Unmarshal(raw, &plans), name)
		require.Len(t, plans, 1)
		p := plans[0]
		var scans []string
		p.Plan.walk(func(n planNode) {
			require.NotEqual(t, "Seq Scan", n.NodeType, "%s: a sequential scan of %s:\n%s", name, n.Relation, raw)
			if strings.Contains(n.NodeType, "Scan") {
				s := n.NodeType + " on " + n.Relation + " using " + n.IndexName
				if n.HeapFetch != nil {
					s += " (heap fetches " + strconv.Itoa(int(*n.HeapFetch)) + ")"
				}
				scans = append(scans, s)
			}
		})
		require.NotEmpty(t, scans, name)
		require.Less(t, p.ExecutionTime, 50.0, "%s took %.1f ms:\n%s", name, p.ExecutionTime, raw)
		t.Logf("%s: %.2f ms (planning %.2f ms): %s", name, p.ExecutionTime, p.PlanningTime, strings.Join(scans, "; "))
	}

	// And the collector reports what was seeded.
	m := metrics.New()
	require.NoError(t, m.RegisterDB(metrics.DBConfig{DB: db.Pool, LeaderID: "the-leader", Queues: []string{"q0", "empty"}}))
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	fams := (&testBundle{m: m, server: srv}).scrape(t)
	require.Equal(t, 1.0, value(t, fams, "quantumflow_db_collector_up", nil))
	// i from 1 to 7000: i%7 = s picks the state, i%5 the queue; each pair
	// (s, queue) holds 200 jobs.
	require.Equal(t, 600.0, value(t, fams, "quantumflow_queue_jobs", map[string]string{"queue": "q0", "state": "available"}))
	require.Equal(t, 200.0, value(t, fams, "quantumflow_queue_jobs", map[string]string{"queue": "q3", "state": "running"}))
	require.Equal(t, 200.0, value(t, fams, "quantumflow_queue_jobs", map[string]string{"queue": "q4", "state": "pending"}))
	require.Equal(t, 0.0, value(t, fams, "quantumflow_queue_jobs", map[string]string{"queue": "empty", "state": "available"}))
	age := value(t, fams, "quantumflow_queue_oldest_available_age_seconds", map[string]string{"queue": "q0"})
	require.InDelta(t, 6990.0, age, 60, "the oldest available job of q0 was scheduled about 6 990 s ago")
	require.Equal(t, 0.0, value(t, fams, "quantumflow_queue_oldest_available_age_seconds", map[string]string{"queue": "empty"}))
	require.Equal(t, 300.0, value(t, fams, "quantumflow_workflows", map[string]string{"status": "pending"}))
	require.Equal(t, 700.0, value(t, fams, "quantumflow_workflows", map[string]string{"status": "running"}))
	require.Equal(t, 20.0, value(t, fams, "quantumflow_fleet_members", map[string]string{"state": "live"}))
	require.Equal(t, 200.0, value(t, fams, "quantumflow_fleet_members", map[string]string{"state": "dead"}))
	_, ok := lookup(fams, "quantumflow_queue_jobs", map[string]string{"queue": "q0", "state": "completed"})
	require.False(t, ok, "final states are not counted")
}

// TestDBCollectorLeaderOnly: with a LeaderID the collector exports nothing
// (not even quantumflow_db_collector_up) unless that client is River's
// current leader.
func TestDBCollectorLeaderOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	m := metrics.New()
	require.NoError(t, m.RegisterDB(metrics.DBConfig{DB: db.Pool, LeaderID: "me"}))
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	b := &testBundle{m: m, server: srv}

	_, ok := lookup(b.scrape(t), "quantumflow_db_collector_up", nil)
	require.False(t, ok, "no leader: not collected")
	_, err := db.Pool.Exec(ctx, `INSERT INTO river_leader (leader_id, elected_at, expires_at) VALUES ('other', now(), now() + interval '1 minute')`)
	require.NoError(t, err)
	_, ok = lookup(b.scrape(t), "quantumflow_db_collector_up", nil)
	require.False(t, ok, "another leader: not collected")
	_, err = db.Pool.Exec(ctx, `UPDATE river_leader SET leader_id = 'me'`)
	require.NoError(t, err)
	fams := b.scrape(t)
	require.Equal(t, 1.0, value(t, fams, "quantumflow_db_collector_up", nil))
	require.Equal(t, 0.0, value(t, fams, "quantumflow_workflows", map[string]string{"status": "running"}))
	_, err = db.Pool.Exec(ctx, `UPDATE river_leader SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	_, ok = lookup(b.scrape(t), "quantumflow_db_collector_up", nil)
	require.False(t, ok, "an expired leadership is nobody's")
}

// TestDBCollectorFailure: a collection that fails does not fail the scrape;
// quantumflow_db_collector_up says 0.
func TestDBCollectorFailure(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmpty(t) // no schema: every statement fails
	m := metrics.New()
	require.NoError(t, m.RegisterDB(metrics.DBConfig{DB: db.Pool, Timeout: time.Second}))
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	fams := (&testBundle{m: m, server: srv}).scrape(t)
	require.Equal(t, 0.0, value(t, fams, "quantumflow_db_collector_up", nil))
	_, ok := lookup(fams, "quantumflow_workflows", map[string]string{"status": "running"})
	require.False(t, ok)
	require.Contains(t, fams, "go_goroutines", "the rest of the scrape is served")
}
