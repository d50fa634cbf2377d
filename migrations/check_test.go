package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/migrations"
)

// check runs migrations.Check in a read-only transaction.
func check(t *testing.T, pool *pgxpool.Pool) (string, error) {
	t.Helper()
	var schema string
	err := pgx.BeginTxFunc(context.Background(), pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		schema, err = migrations.Check(context.Background(), tx, "db")
		return err
	})
	return schema, err
}

func TestCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewEmpty(t)

	_, err := check(t, db.Pool)
	require.ErrorIs(t, err, migrations.ErrNotMigrated)
	require.EqualError(t, err, "database db has no QuantumFlow schema in "+db.Schema+": run 'worker migrate' first (or start with --migrate)")

	// One connection is enough to migrate: River's steps and ours share it.
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.MaxConns = 1
	one, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer one.Close()
	// With a second connection needed, this would wait for its deadline.
	migrateCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := migrations.Migrate(migrateCtx, one)
	require.NoError(t, err)
	require.NotEmpty(t, res.River)
	schema, err := check(t, one)
	require.NoError(t, err)
	require.Equal(t, db.Schema, schema)

	_, err = db.Pool.Exec(ctx, `DELETE FROM qf_migration WHERE version = 4`)
	require.NoError(t, err)
	_, err = check(t, db.Pool)
	require.EqualError(t, err, "database db lacks QuantumFlow migrations [4] in "+db.Schema+": run 'worker migrate' first (or start with --migrate)")

	_, err = db.Pool.Exec(ctx, `INSERT INTO qf_migration (version, name) VALUES (4, 'lease')`)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `DELETE FROM river_migration WHERE version = (SELECT max(version) FROM river_migration)`)
	require.NoError(t, err)
	_, err = check(t, db.Pool)
	require.ErrorIs(t, err, migrations.ErrNotMigrated)
	require.ErrorContains(t, err, "lacks River migrations in "+db.Schema)
}
