package migrations_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/migrations"
)

func TestMigrateConcurrentlyAndIdempotently(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmpty(t)
	migrateConcurrently(t, db.Pool, db.Pool)
}

// TestMigrateThroughPgBouncer runs concurrent migrations of one empty
// database through PgBouncer in transaction mode, where consecutive
// transactions of one client connection run on different server sessions,
// so a session-level lock would not serialise them (and would be left
// behind on whichever server session took it).
func TestMigrateThroughPgBouncer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDatabase(t)
	bouncer := pgtest.StartPgBouncer(t, 3)
	pool, err := cliutil.OpenPool(ctx, bouncer.URL(db.Database), cliutil.PoolOptions{MaxConns: 8})
	require.NoError(t, err)
	defer pool.Close()
	migrateConcurrently(t, pool, db.Pool)

	// Nothing is left locked on the server sessions PgBouncer keeps.
	var locks int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()`).Scan(&locks))
	require.Zero(t, locks)
}

// migrateConcurrently migrates one empty schema from several goroutines at
// once on pool (each Migrate takes a connection of its own) and checks on
// direct that every migration was applied exactly once. Migrate locks each
// step, so River's steps may be spread over several callers; the project's
// migrations share one transaction, so one caller applies them all.
func migrateConcurrently(t *testing.T, pool, direct *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all, err := migrations.All()
	require.NoError(t, err)
	require.NotEmpty(t, all)

	const n = 4
	results := make([]*migrations.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = migrations.Migrate(ctx, pool)
		}(i)
	}
	wg.Wait()
	applied := 0
	var river []int
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i])
		river = append(river, results[i].River...)
		if len(results[i].QuantumFlow) > 0 {
			applied++
			require.Len(t, results[i].QuantumFlow, len(all))
		}
	}
	require.Equal(t, 1, applied)
	var inTable []int
	rows, err := direct.Query(ctx, `SELECT version FROM river_migration ORDER BY version`)
	require.NoError(t, err)
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		inTable = append(inTable, v)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, inTable)
	slices.Sort(river)
	require.Equal(t, inTable, river, "every River migration applied by exactly one caller")

	again, err := migrations.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, again.River)
	require.Empty(t, again.QuantumFlow)

	for _, table := range []string{"qf_workflow", "qf_node", "qf_kind", "qf_migration", "river_job"} {
		var exists bool
		require.NoError(t, direct.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists))
		require.True(t, exists, table)
	}
}
