package migrations

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrNotMigrated is matched by Check's errors when the schema lacks River's
// or QuantumFlow's tables or migrations.
var ErrNotMigrated = errors.New("run 'worker migrate' first (or start with --migrate)")

// Check returns the schema that tx works in (the first of its search_path
// that exists), and an error matching ErrNotMigrated, naming what is
// missing, when that schema lacks River's or QuantumFlow's tables or any of
// their migrations. db names the database in messages (no password). All of
// its reads go through tx.
func Check(ctx context.Context, tx pgx.Tx, db string) (string, error) {
	var schema, riverJob, qfMigration *string
	if err := tx.QueryRow(ctx, `SELECT current_schema(), to_regclass('river_job')::text, to_regclass('qf_migration')::text`).
		Scan(&schema, &riverJob, &qfMigration); err != nil {
		return "", fmt.Errorf("check schema of %s: %w", db, err)
	}
	if schema == nil {
		return "", fmt.Errorf("database %s: no schema of its search_path exists: create it, then %w", db, ErrNotMigrated)
	}
	if riverJob == nil || qfMigration == nil {
		return "", fmt.Errorf("database %s has no QuantumFlow schema in %s: %w", db, *schema, ErrNotMigrated)
	}
	migrator, err := riverMigrator()
	if err != nil {
		return "", err
	}
	valid, err := migrator.ValidateTx(ctx, tx, nil)
	if err != nil {
		return "", fmt.Errorf("check River migrations of %s: %w", db, err)
	}
	if !valid.OK {
		return "", fmt.Errorf("database %s lacks River migrations in %s (%s): %w", db, *schema, strings.Join(valid.Messages, "; "), ErrNotMigrated)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM qf_migration`)
	if err != nil {
		return "", fmt.Errorf("check schema of %s: %w", db, err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return "", fmt.Errorf("check schema of %s: %w", db, err)
	}
	all, err := All()
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
		return "", fmt.Errorf("database %s lacks QuantumFlow migrations %v in %s: %w", db, missing, *schema, ErrNotMigrated)
	}
	return *schema, nil
}
