package migrations_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/migrations"
)

func TestMigrateConcurrentlyAndIdempotently(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := pgtest.NewEmpty(t)
	all, err := migrations.All()
	require.NoError(t, err)
	require.NotEmpty(t, all)

	// Several processes migrating one empty schema at once: exactly one
	// applies each migration, the others wait and find nothing to do.
	const n = 4
	results := make([]*migrations.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = migrations.Migrate(ctx, db.Pool)
		}(i)
	}
	wg.Wait()
	applied := 0
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i])
		if len(results[i].QuantumFlow) > 0 {
			applied++
			require.Len(t, results[i].QuantumFlow, len(all))
			require.NotEmpty(t, results[i].River)
		}
	}
	require.Equal(t, 1, applied)

	again, err := migrations.Migrate(ctx, db.Pool)
	require.NoError(t, err)
	require.Empty(t, again.River)
	require.Empty(t, again.QuantumFlow)

	for _, table := range []string{"qf_workflow", "qf_node", "qf_kind", "qf_migration", "river_job"} {
		var exists bool
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists))
		require.True(t, exists, table)
	}
}
