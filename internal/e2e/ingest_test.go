package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// End-to-end tests of code ingestion (docs/INGESTION.md) with the real
// binaries: bad input, an embedding endpoint that is down, and a worker
// SIGKILLed in the middle of a run of a few thousand files.

// ingestOut is `enqueue ingest -o json`'s object.
type ingestOut struct {
	ID       string         `json:"id"`
	Codebase string         `json:"codebase"`
	Files    map[string]int `json:"files"`
	Status   string         `json:"status"`
}

func TestIngestBadInput(t *testing.T) {
	e := newEnv(t)
	file := writeFile(t, "plain.txt", "not a directory\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing path", []string{"ingest", filepath.Join(t.TempDir(), "nope")}, "does not exist"},
		{"not a directory", []string{"ingest", file}, "is not a directory"},
		{"invalid codebase", []string{"ingest", "--codebase", "my code", t.TempDir()}, `invalid codebase name "my code"`},
		{"codebase too long", []string{"ingest", "--codebase", strings.Repeat("a", 129), t.TempDir()}, "invalid codebase name"},
		{"bad priority", []string{"ingest", "--priority", "urgent", t.TempDir()}, `--priority: invalid priority "urgent"`},
		{"no path", []string{"ingest"}, "missing PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.enqueue(tc.args...)
			require.Equal(t, 2, r.code, "usage error:\n%s", r)
			require.Contains(t, r.stderr, tc.want, r.String())
			require.True(t, strings.HasPrefix(r.stderr, "enqueue: "), r.String())
			require.Empty(t, r.stdout)
		})
	}
	// Nothing was written.
	require.Zero(t, count(t, e, `SELECT count(*) FROM qf_workflow`))
	require.Zero(t, count(t, e, `SELECT count(*) FROM qf_codebase`))

	// An unreachable database: exit 1, nothing to write anyway.
	r := runEnqueue(t, []string{"DATABASE_URL=postgres://postgres@127.0.0.1:1/postgres?sslmode=disable"}, nil,
		"--timeout", "5s", "ingest", t.TempDir())
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "connection refused", r.String())
}

func TestIngestEmbeddingEndpointDown(t *testing.T) {
	e := newEnv(t)
	startIngestWorker(t, e, []string{"QF_EMBED_URL=http://127.0.0.1:1/v1", "QF_EMBED_MODEL=test-model", "QF_INGEST_MAX_ATTEMPTS=2"})
	root := t.TempDir()
	for i := range 3 {
		writeTreeFile(t, root, fmt.Sprintf("f%d.go", i), fmt.Sprintf("package p\n\n// F%d is a function.\nfunc F%d() int { return %d }\n", i, i, i))
	}
	listener := listenIngest(t, e)

	r := e.enqueue("ingest", "--wait", "-o", "json", "--codebase", "down", root)
	require.Equal(t, 4, r.code, "the run fails: a step failed for good\n%s", r)
	var out ingestOut
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.String())
	require.Equal(t, "failed", out.Status)
	require.Equal(t, 3, out.Files["new"])
	// The follower names the failed steps and why.
	require.Contains(t, r.stderr, "embedding_generation failed after 2 attempts", r.String())
	require.Contains(t, r.stderr, "embedding_generation of f0.go: embedding endpoint http://127.0.0.1:1/v1", r.String())
	require.Contains(t, r.stderr, "connection refused", r.String())

	// The notification says the same, and the run's row is there.
	n := listener()
	require.Equal(t, out.ID, n["run"])
	require.Equal(t, "failed", n["status"])
	require.EqualValues(t, 3, n["failed"])
	steps := n["failed_steps"].([]any)
	require.Len(t, steps, 3)
	first := steps[0].(map[string]any)
	require.Equal(t, "embedding_generation", first["step"])
	require.Contains(t, first["error"], "connection refused")
	require.Equal(t, 1, count(t, e, `SELECT count(*) FROM qf_ingest_run WHERE status = 'failed'`))

	// Nothing half-written: the files are stored whole (their chunks and
	// history), the graph was built, and no chunk has a vector.
	require.Equal(t, 3, count(t, e, `SELECT count(*) FROM qf_code_file WHERE skip_reason IS NULL`))
	require.Equal(t, 3, count(t, e, `SELECT count(*) FROM qf_code_version WHERE change = 'added'`))
	require.Zero(t, count(t, e, `SELECT count(*) FROM qf_code_file f WHERE NOT EXISTS (SELECT 1 FROM qf_code_chunk c WHERE c.file_id = f.id)`))
	require.Zero(t, count(t, e, `SELECT count(*) FROM qf_code_centroid`))
	require.Zero(t, count(t, e, `SELECT count(*) FROM qf_embedding_cache`))
}

func TestIngestSurvivesSIGKILL(t *testing.T) {
	e := newEnv(t)
	const files = 2500
	root := t.TempDir()
	for i := range files {
		writeTreeFile(t, root, fmt.Sprintf("pkg%02d/f%04d.go", i%50, i), fmt.Sprintf(
			"package pkg%02d\n\nimport \"fmt\"\n\n// F%d prints.\nfunc F%d() {\n\tfmt.Println(%d)\n}\n\n// T%d is a type.\ntype T%d struct{ N int }\n",
			i%50, i, i, i, i, i))
	}
	victim := startIngestWorker(t, e, nil)
	startIngestWorker(t, e, nil)

	r := e.enqueue("ingest", "-o", "json", "--codebase", "killed", root)
	require.Equal(t, 0, r.code, r.String())
	var out ingestOut
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.String())
	require.Equal(t, files, out.Files["new"])

	// Kill one worker once part of the files are stored: its running
	// steps (storage transactions among them) die mid-flight.
	waitFor(t, 3*time.Minute, "a tenth of the files stored", func() bool {
		return count(t, e, `SELECT count(*) FROM qf_code_file`) >= files/10
	})
	victim.kill()
	require.Equal(t, -1, victim.wait(10*time.Second))
	startIngestWorker(t, e, nil)

	w := e.enqueue("wait", "--timeout", "8m", out.ID)
	require.Equal(t, 0, w.code, "the run completes:\n%s", w)
	// The kill interrupted steps: their jobs were handed back with the
	// dead worker's attempt recorded.
	require.NotZero(t, count(t, e, `SELECT count(*) FROM river_job WHERE kind LIKE 'ingest.%' AND coalesce(array_length(errors, 1), 0) > 0`),
		"jobs of the killed worker were handed back")

	// Every file stored once, whole: one row per path, its history row, and
	// chunks that hold every non-blank line of the file on disk.
	require.Equal(t, files, count(t, e, `SELECT count(*) FROM qf_code_file WHERE skip_reason IS NULL`))
	require.Equal(t, files, count(t, e, `SELECT count(DISTINCT path) FROM qf_code_file`))
	require.Equal(t, files, count(t, e, `SELECT count(*) FROM qf_code_version WHERE change = 'added'`))
	rows, err := e.Pool.Query(context.Background(), `
SELECT f.path, f.hash, string_agg(c.content, E'\u0001' ORDER BY c.ord), count(c.*), count(DISTINCT c.ord)
FROM qf_code_file f JOIN qf_code_chunk c ON c.file_id = f.id GROUP BY f.id`)
	require.NoError(t, err)
	var (
		path, content    string
		hash             []byte
		chunks, distinct int
		seen             int
	)
	_, err = pgx.ForEachRow(rows, []any{&path, &hash, &content, &chunks, &distinct}, func() error {
		seen++
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if string(sum[:]) != string(hash) {
			return fmt.Errorf("%s: stored hash is not the content's", path)
		}
		if chunks != distinct {
			return fmt.Errorf("%s: chunks stored twice (%d rows, %d ords)", path, chunks, distinct)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(line) != "" && !strings.Contains(content, line) {
				return fmt.Errorf("%s: line %q is in no chunk", path, line)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, files, seen, "every stored file has chunks")
	require.Zero(t, count(t, e, `
SELECT count(*) FROM qf_code_chunk c
WHERE c.tsv IS NULL OR NOT EXISTS (
    SELECT 1 FROM qf_code_centroid p WHERE p.file_id = c.file_id AND position(int8send(c.id) IN p.chunk_ids) > 0)`))
	require.Equal(t, 1, count(t, e, `SELECT count(*) FROM qf_ingest_run WHERE status = 'completed'`))
}

// startIngestWorker starts a worker binary with extra environment (the
// harness's workers get none) and waits until it listens.
func startIngestWorker(t *testing.T, e *env, extraEnv []string) *workerProc {
	t.Helper()
	return e.startWorkerEnv(t, extraEnv, "--queues", "default=50")
}

func writeTreeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func count(t *testing.T, e *env, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, e.Pool.QueryRow(context.Background(), sql).Scan(&n), sql)
	return n
}

// listenIngest LISTENs on the ingestion channel and returns a function that
// waits for the next notification's payload.
func listenIngest(t *testing.T, e *env) func() map[string]any {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, `LISTEN quantumflow_ingest`)
	require.NoError(t, err)
	return func() map[string]any {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		n, err := conn.WaitForNotification(wctx)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(n.Payload), &out), n.Payload)
		return out
	}
}
