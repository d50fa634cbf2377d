package ingest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	ingestjobs "github.com/quantumflow/quantumflow/jobs/ingest"
)

func count(t *testing.T, db *pgtest.DB, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), sql).Scan(&n), sql)
	return n
}

// TestSubmit: options are checked before anything is written, and a
// codebase has one run in progress at a time. No worker runs here, so the
// first run stays pending.
func TestSubmit(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	c, err := flow.NewClient(db.Pool, nil)
	require.NoError(t, err)
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "a.go"), []byte("package a\n"), 0o644))
	file := filepath.Join(root, "a.go")

	// Before any worker registered the kinds: refused, and says why.
	_, err = ingest.Submit(ctx, c, ingest.Options{Path: root, Codebase: "demo"})
	require.ErrorContains(t, err, "start 'worker'")
	require.Zero(t, count(t, db, `SELECT count(*) FROM qf_codebase`), "nothing written")
	require.NoError(t, c.RegisterKinds(ctx, ingestjobs.Kinds()...))

	for _, tc := range []struct {
		opts ingest.Options
		want error
	}{
		{ingest.Options{Path: filepath.Join(root, "nope")}, ingest.ErrNotExist},
		{ingest.Options{Path: file}, ingest.ErrNotDir},
		{ingest.Options{Path: root, Codebase: "a/b"}, ingest.ErrInvalidCodebase},
		{ingest.Options{Path: root, Codebase: strings.Repeat("x", 129)}, ingest.ErrInvalidCodebase},
		{ingest.Options{Path: root, Priority: "urgent"}, ingest.ErrInvalidPriority},
		{ingest.Options{Path: root, Excludes: []string{" "}}, ingest.ErrInvalidExclude},
	} {
		_, err := ingest.Submit(ctx, c, tc.opts)
		require.ErrorIs(t, err, tc.want, "%+v", tc.opts)
	}
	require.Zero(t, count(t, db, `SELECT count(*) FROM qf_workflow`), "nothing written")
	require.Zero(t, count(t, db, `SELECT count(*) FROM qf_codebase`), "nothing written")

	run, err := ingest.Submit(ctx, c, ingest.Options{Path: root, Codebase: "demo"})
	require.NoError(t, err)
	require.Equal(t, "demo", run.Codebase)
	st, err := c.Status(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, "ingest-demo", st.Name)
	require.Len(t, st.Nodes, 3)

	_, err = ingest.Submit(ctx, c, ingest.Options{Path: root, Codebase: "demo"})
	var active *ingest.ActiveRunError
	require.True(t, errors.As(err, &active), "%v", err)
	require.ErrorIs(t, err, ingest.ErrRunActive)
	require.Equal(t, run.ID, active.RunID)
	require.Contains(t, err.Error(), run.ID)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM qf_workflow`))

	// Another codebase is not held up.
	_, err = ingest.Submit(ctx, c, ingest.Options{Path: root, Codebase: "other"})
	require.NoError(t, err)
}
