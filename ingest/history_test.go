package ingest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// The history and codebases tests insert qf_code_version and
// qf_ingest_run rows with SQL, as the pipeline writes them.

func TestHistory(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	cb := insertCodebase(t, db.Pool, "demo", demoFiles())
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := db.Pool.Exec(ctx, `
INSERT INTO qf_code_version (codebase_id, path, run_id, hash, change, from_path, at) VALUES
    ($1, 'a/new.go', 'run-3', '\xab01'::bytea, 'renamed', 'a/old.go', $2::timestamptz + interval '2 hours'),
    ($1, 'a/old.go', 'run-1', '\x0102'::bytea, 'added', NULL, $2),
    ($1, 'a/old.go', 'run-2', '\xab01'::bytea, 'modified', NULL, $2::timestamptz + interval '1 hour'),
    ($1, 'a/old.go', 'run-3', NULL, 'removed', NULL, $2::timestamptz + interval '2 hours')`, cb, t0)
	require.NoError(t, err)

	vs, err := History(ctx, db.Pool, "demo", "a/old.go")
	require.NoError(t, err)
	require.Len(t, vs, 3)
	require.Equal(t, []string{"added", "modified", "removed"}, []string{vs[0].Change, vs[1].Change, vs[2].Change}, "oldest first")
	require.Equal(t, "0102", *vs[0].Hash)
	require.Nil(t, vs[2].Hash)
	require.Equal(t, "run-2", vs[1].Run)
	require.True(t, vs[0].At.Equal(t0))

	b, err := json.Marshal(vs[0])
	require.NoError(t, err)
	require.JSONEq(t, `{"hash": "0102", "change": "added", "run": "run-1", "at": "2026-01-02T03:04:05Z"}`, string(b))

	// Spellings of the same path.
	for _, p := range []string{"./a/old.go", "a//old.go", "a/x/../old.go", "/src/demo/a/old.go"} {
		got, err := History(ctx, db.Pool, "demo", p)
		require.NoError(t, err, p)
		require.Len(t, got, 3, p)
	}
	vs, err = History(ctx, db.Pool, "demo", "a/new.go")
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, "a/old.go", vs[0].FromPath)

	vs, err = History(ctx, db.Pool, "demo", "never/seen.go")
	require.NoError(t, err)
	require.NotNil(t, vs)
	require.Empty(t, vs)

	_, err = History(ctx, db.Pool, "nope", "a/old.go")
	require.ErrorIs(t, err, ErrCodebaseNotFound)
	for _, p := range []string{"../etc/passwd", "/etc/passwd", ".", ""} {
		_, err = History(ctx, db.Pool, "demo", p)
		require.ErrorIs(t, err, ErrBadOption, p)
	}
}

func TestCodebases(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	cbs, err := Codebases(ctx, db.Pool)
	require.NoError(t, err)
	require.NotNil(t, cbs)
	require.Empty(t, cbs)

	demo := insertCodebase(t, db.Pool, "demo", demoFiles())
	insertCodebase(t, db.Pool, "other", otherFiles())
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err = db.Pool.Exec(ctx, `
INSERT INTO qf_ingest_run (run_id, codebase_id, status, counts, started_at, finished_at) VALUES
    ('run-1', $1, 'completed', '{}', $2, $2),
    ('run-2', $1, 'failed', '{}', $2, $2::timestamptz + interval '1 minute')`, demo, t0)
	require.NoError(t, err)

	cbs, err = Codebases(ctx, db.Pool)
	require.NoError(t, err)
	require.Len(t, cbs, 2)
	d := cbs[0]
	require.Equal(t, "demo", d.Name)
	require.Equal(t, "/src/demo", d.Root)
	require.Equal(t, 5, d.Files)
	require.Equal(t, 1, d.Skipped)
	require.Equal(t, 9, d.Symbols)
	require.Equal(t, 12, d.Chunks)
	require.Equal(t, &LastRun{ID: "run-2", Status: "failed", FinishedAt: t0.Add(time.Minute)}, normalizeRun(d.LastRun))
	require.Equal(t, "other", cbs[1].Name)
	require.Nil(t, cbs[1].LastRun)

	b, err := json.Marshal(cbs[1])
	require.NoError(t, err)
	require.JSONEq(t, `{"name": "other", "root": "/src/other", "files": 1, "skipped": 0, "symbols": 1, "chunks": 1, "last_run": null}`, string(b))
}

func normalizeRun(r *LastRun) *LastRun {
	if r == nil {
		return nil
	}
	c := *r
	c.FinishedAt = c.FinishedAt.UTC()
	return &c
}
