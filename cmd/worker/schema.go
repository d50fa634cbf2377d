package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quantumflow/quantumflow/migrations"
)

// checkSchema returns the schema the pool works in (the first of its
// search_path that exists), failing with a message that says to migrate
// when that schema lacks River's or QuantumFlow's tables or migrations.
func checkSchema(ctx context.Context, pool *pgxpool.Pool, db string) (string, error) {
	var schema, riverJob, qfMigration *string
	if err := pool.QueryRow(ctx, `SELECT current_schema(), to_regclass('river_job')::text, to_regclass('qf_migration')::text`).
		Scan(&schema, &riverJob, &qfMigration); err != nil {
		return "", fmt.Errorf("check schema of %s: %w", db, err)
	}
	if schema == nil {
		return "", fmt.Errorf("database %s: no schema of its search_path exists: create it, then run 'worker migrate'", db)
	}
	if riverJob == nil || qfMigration == nil {
		return "", fmt.Errorf("database %s has no QuantumFlow schema in %s: run 'worker migrate' first (or start with --migrate)", db, *schema)
	}
	rows, err := pool.Query(ctx, `SELECT version FROM qf_migration`)
	if err != nil {
		return "", fmt.Errorf("check schema of %s: %w", db, err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return "", fmt.Errorf("check schema of %s: %w", db, err)
	}
	all, err := migrations.All()
	if err != nil {
		return "", err
	}
	var missing []int
	for _, mg := range all {
		if !slices.Contains(applied, mg.Version) {
			missing = append(missing, mg.Version)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("database %s lacks QuantumFlow migrations %v in %s: run 'worker migrate' first (or start with --migrate)", db, missing, *schema)
	}
	return *schema, nil
}

// schemaHint adds the fix to an error caused by a missing table (SQLSTATE
// 42P01).
func schemaHint(err error) error {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42P01" {
		return fmt.Errorf("%w: the schema is missing or outdated: run 'worker migrate'", err)
	}
	return err
}
