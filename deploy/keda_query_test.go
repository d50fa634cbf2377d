package deploy_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

const scaledObjectFile = "kubernetes/overlays/keda/scaledobject.yaml"

// kedaQuery returns the postgresql trigger's query of the KEDA overlay.
func kedaQuery(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(scaledObjectFile)
	require.NoError(t, err)
	var so struct {
		Spec struct {
			Triggers []struct {
				Type     string            `yaml:"type"`
				Metadata map[string]string `yaml:"metadata"`
			} `yaml:"triggers"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(b, &so))
	require.Len(t, so.Spec.Triggers, 1)
	require.Equal(t, "postgresql", so.Spec.Triggers[0].Type)
	q := so.Spec.Triggers[0].Metadata["query"]
	require.NotEmpty(t, q)
	return q
}

// TestKEDAQuery runs the KEDA overlay's scaler query on a migrated schema
// seeded with River jobs of every state in two queues, many of them
// finished: it counts exactly the available and running jobs of the queue
// (in the schema of the connection's search_path, as KEDA's connection from
// the workers' URL does), and the plan reads an index, not the table.
func TestKEDAQuery(t *testing.T) {
	query := kedaQuery(t)
	queue := strings.Split(query, "'")[1] // the overlay's replacement sets this one
	require.Equal(t, "default", queue)

	db := pgtest.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	seed := func(queue, state string, n int) {
		t.Helper()
		finalized := "NULL"
		if state == "completed" || state == "cancelled" || state == "discarded" {
			finalized = "now()"
		}
		scheduled := "now()"
		if state == "scheduled" || state == "retryable" {
			scheduled = "now() + interval '1 hour'"
		}
		attempt := "0"
		if state == "running" || finalized != "NULL" {
			attempt = "1"
		}
		_, err := db.Pool.Exec(ctx, `
			INSERT INTO river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, finalized_at, attempt)
			SELECT '{}', 'noop', 25, 1, $1, $2::river_job_state, `+scheduled+`, `+finalized+`, `+attempt+`
			FROM generate_series(1, $3)`, queue, state, n)
		require.NoError(t, err, "seed %d %s jobs of %s", n, state, queue)
	}
	seed("default", "completed", 60000)
	seed("default", "discarded", 2000)
	seed("default", "cancelled", 1000)
	seed("default", "available", 300)
	seed("default", "running", 25)
	seed("default", "scheduled", 400)
	seed("default", "retryable", 30)
	seed("default", "pending", 50)
	seed("other", "available", 700)
	seed("other", "running", 9)
	seed("other", "completed", 5000)
	_, err := db.Pool.Exec(ctx, "VACUUM ANALYZE river_job")
	require.NoError(t, err)

	var n int64
	require.NoError(t, db.Pool.QueryRow(ctx, query).Scan(&n))
	require.EqualValues(t, 300+25, n, "available + running jobs of queue %s", queue)

	rows, err := db.Pool.Query(ctx, "EXPLAIN "+query)
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	text := strings.Join(plan, "\n")
	t.Logf("plan:\n%s", text)
	require.NotContains(t, text, "Seq Scan", "the scaler's query must not read the whole river_job table")
	require.Contains(t, text, "river_job_prioritized_fetching_index")
}
