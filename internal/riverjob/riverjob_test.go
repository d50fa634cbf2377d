package riverjob_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// TestRiverMigrationVersion pins the River schema the statements of this
// package were written against: a River upgrade that brings a new migration
// fails here, and whoever upgrades reads sql.go against the new schema
// before moving the pin.
func TestRiverMigrationVersion(t *testing.T) {
	t.Parallel()
	migrator, err := rivermigrate.New[pgx.Tx](riverpgxv5.New(nil), nil)
	require.NoError(t, err)
	all := migrator.AllVersions()
	require.Equal(t, riverjob.RiverMigrationVersion, all[len(all)-1].Version,
		"River's newest migration changed: check every statement in internal/riverjob against it, then update RiverMigrationVersion")
}

// TestStatementsAgainstRiverSchema runs every statement of the package once
// against a real River schema, so a renamed column fails a test instead of
// a worker.
func TestStatementsAgainstRiverSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // test

	require.NoError(t, riverjob.CompleteManyTx(ctx, tx, []int64{1, 2}, []*string{nil, nil}))
	require.NoError(t, riverjob.FinalizeFailedTx(ctx, tx, 1, "w1", rivertype.JobStateDiscarded, 1, "boom"))
	require.NoError(t, riverjob.FinalizeFailedTx(ctx, tx, 1, "w1", rivertype.JobStateCancelled, 1, "boom"))
	require.Error(t, riverjob.FinalizeFailedTx(ctx, tx, 1, "w1", rivertype.JobStateCompleted, 1, "boom"))
	rescued, err := riverjob.RescueDeadTx(ctx, tx, []string{"w1"}, 0)
	require.NoError(t, err)
	require.Empty(t, rescued)
	unsettled, err := riverjob.FindUnsettled(ctx, tx, 0, 1e12, nil, 10)
	require.NoError(t, err)
	require.Empty(t, unsettled)
	ids, err := riverjob.LiveIDsTx(ctx, tx, "7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f")
	require.NoError(t, err)
	require.Empty(t, ids)
	jobs, err := riverjob.NewestByRunTx(ctx, tx, "7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f")
	require.NoError(t, err)
	require.Empty(t, jobs)
}

func TestParseMeta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want riverjob.Meta
		ok   bool
	}{
		{"full", `{"qf_wf":"w","qf_n":3,"qf_r":2,"qf_b":1,"qf_path":"g/a","qf_t":500}`,
			riverjob.Meta{Workflow: "w", Node: 3, Run: 2, Base: 1, Path: "g/a", TimeoutMS: 500}, true},
		{"minimal", `{"qf_wf":"w","qf_n":0}`, riverjob.Meta{Workflow: "w"}, true},
		{"plain River job", `{"other":1}`, riverjob.Meta{}, false},
		{"empty workflow", `{"qf_wf":"","qf_n":1}`, riverjob.Meta{}, false},
		{"index not a number", `{"qf_wf":"w","qf_n":"1"}`, riverjob.Meta{}, false},
		{"not JSON", `{`, riverjob.Meta{}, false},
		{"empty", ``, riverjob.Meta{}, false},
	}
	for _, tt := range tests {
		got, ok := riverjob.ParseMeta([]byte(tt.in))
		require.Equal(t, tt.ok, ok, tt.name)
		require.Equal(t, tt.want, got, tt.name)
	}
	require.Equal(t, int64(500), riverjob.Timeout(&rivertype.JobRow{Metadata: []byte(`{"qf_wf":"w","qf_n":0,"qf_t":500}`)}).Milliseconds())
}

// TestCompleteManyLeavesJobsOfAnotherHolder: a stale attempt (its worker
// was declared dead and the job runs elsewhere now) completes nothing.
func TestCompleteManyLeavesJobsOfAnotherHolder(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	var id int64
	require.NoError(t, db.Pool.QueryRow(ctx, `
INSERT INTO river_job (args, kind, max_attempts, queue, state, attempt, attempted_at, attempted_by, metadata)
VALUES ('{}', 'noop', 3, 'default', 'running', 2, now(), ARRAY['old', 'new'], '{}') RETURNING id`).Scan(&id))
	state := func() string {
		var s string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT state::text FROM river_job WHERE id = $1`, id).Scan(&s))
		return s
	}
	complete := func(holder string) {
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, riverjob.CompleteManyTx(ctx, tx, []int64{id}, []*string{&holder}))
		require.NoError(t, tx.Commit(ctx))
	}
	complete("old")
	require.Equal(t, "running", state(), "the old holder's completion must not land on the new holder's run")
	complete("new")
	require.Equal(t, "completed", state())
}
