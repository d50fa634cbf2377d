package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quantumflow/quantumflow/migrations"
)

// checkSchema returns the schema the pool works in, failing with a message
// that says to migrate when it lacks River's or QuantumFlow's tables or
// migrations (migrations.Check, in one read-only transaction).
func checkSchema(ctx context.Context, pool *pgxpool.Pool, db string) (string, error) {
	var schema string
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		schema, err = migrations.Check(ctx, tx, db)
		return err
	})
	return schema, err
}

// schemaHint adds the fix to an error caused by a missing table (SQLSTATE
// 42P01).
func schemaHint(err error) error {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42P01" {
		return fmt.Errorf("%w: the schema is missing or outdated: run 'worker migrate'", err)
	}
	return err
}
