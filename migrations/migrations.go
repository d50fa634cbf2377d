// Package migrations applies the database schema QuantumFlow needs: River's
// own tables (through rivermigrate) and the project's tables (qf_workflow,
// qf_node, qf_kind, qf_worker, qf_lease, and qf_migration, which records
// them), from SQL files embedded in the binary; and Check tells whether a
// schema is up to date.
//
// Migrate is idempotent and safe when several processes run it at once:
// each of its transactions holds an advisory lock, so a second process waits
// for every step, then finds nothing left to do. It keeps no session state
// between transactions, so it also runs through PgBouncer in transaction
// mode.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.up.sql
var sqlFS embed.FS

// Migration is one of the project's own schema versions.
type Migration struct {
	Version int
	Name    string
	SQLUp   string
}

// Result tells what a Migrate call applied.
type Result struct {
	// River lists the River migration versions applied by this call.
	River []int
	// QuantumFlow lists the project's migration versions applied by this call.
	QuantumFlow []int
}

// All returns the project's migrations in version order.
func All() ([]Migration, error) {
	entries, err := fs.Glob(sqlFS, "*.up.sql")
	if err != nil {
		return nil, fmt.Errorf("list embedded migrations: %w", err)
	}
	out := make([]Migration, 0, len(entries))
	for _, name := range entries {
		num, rest, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migration file %q: want NNN_name.up.sql", name)
		}
		version, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration file %q: bad version: %w", name, err)
		}
		body, err := sqlFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", name, err)
		}
		out = append(out, Migration{Version: version, Name: strings.TrimSuffix(rest, ".up.sql"), SQLUp: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate brings the schema selected by the pool's search_path up to date
// (see MigrateConn). It uses one connection of the pool, so a pool of one
// connection is enough.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (*Result, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	return MigrateConn(ctx, conn.Conn())
}

// MigrateConn brings the schema selected by the connection's search_path up
// to date on that one connection: River's migrations first, then the
// project's. River's migrations run each in its own transaction (some cannot
// share one: a new enum value must be committed before use); the project's
// run in one transaction, so a failure there leaves none of them applied.
//
// Every one of those transactions starts by taking a transaction-level
// advisory lock keyed on the current schema (lockTx), so concurrent callers
// serialise step by step: each step reads what the previous one committed,
// no migration is applied twice, and the later callers find nothing to do.
// No session state outlives a transaction, so MigrateConn also works through
// a connection pooler in transaction mode (PgBouncer), where consecutive
// transactions of one client may run on different server sessions.
func MigrateConn(ctx context.Context, conn *pgx.Conn) (*Result, error) {
	migrator, err := riverMigrator()
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for {
		versions, err := riverStepTx(ctx, conn, migrator)
		if err != nil {
			return nil, err
		}
		if len(versions) == 0 {
			break
		}
		res.River = append(res.River, versions...)
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a rollback after commit is a no-op
	if err := lockTx(ctx, tx); err != nil {
		return nil, err
	}
	versions, err := migrateOwnTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("migrate: commit: %w", err)
	}
	res.QuantumFlow = versions
	return res, nil
}

// lockTx takes the migration lock of the current schema for the rest of tx:
// a transaction-level advisory lock, released by the commit or rollback.
func lockTx(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('quantumflow.migrate.' || current_schema()))`); err != nil {
		return fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	return nil
}

// riverMigrator returns River's migrator for transactions: it works only
// through the transactions it is given, so it needs no pool.
func riverMigrator() (*rivermigrate.Migrator[pgx.Tx], error) {
	migrator, err := rivermigrate.New[pgx.Tx](riverpgxv5.New(nil), &rivermigrate.Config{Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("migrate: river migrator: %w", err)
	}
	return migrator, nil
}

// riverStepTx applies River's next pending migration in a transaction of
// its own on conn and returns its version, or nothing when none is pending.
func riverStepTx(ctx context.Context, conn *pgx.Conn, migrator *rivermigrate.Migrator[pgx.Tx]) ([]int, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: river: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a rollback after commit is a no-op
	if err := lockTx(ctx, tx); err != nil {
		return nil, err
	}
	//nolint:staticcheck // MigrateTx is deprecated for running every migration in one transaction; one step per transaction is what Migrate does.
	step, err := migrator.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{MaxSteps: 1})
	if err != nil {
		return nil, fmt.Errorf("migrate: river: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("migrate: river: commit: %w", err)
	}
	versions := make([]int, len(step.Versions))
	for i, v := range step.Versions {
		versions[i] = v.Version
	}
	return versions, nil
}

// migrateOwnTx applies the project's migrations that qf_migration does not
// list yet, in tx, and returns their versions.
func migrateOwnTx(ctx context.Context, tx pgx.Tx) ([]int, error) {
	var applied []int
	if _, err := tx.Exec(ctx, `
CREATE TABLE IF NOT EXISTS qf_migration (
    version    int PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return nil, fmt.Errorf("migrate: create qf_migration: %w", err)
	}
	all, err := All()
	if err != nil {
		return nil, err
	}
	done := map[int]bool{}
	rows, err := tx.Query(ctx, `SELECT version FROM qf_migration`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read applied versions: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("migrate: read applied versions: %w", err)
	}
	for _, v := range versions {
		done[v] = true
	}
	for _, m := range all {
		if done[m.Version] {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQLUp); err != nil {
			return nil, fmt.Errorf("migrate: apply %03d [%s]: %w", m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO qf_migration (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return nil, fmt.Errorf("migrate: record %03d [%s]: %w", m.Version, m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// quiet discards the River migrator's logs: Migrate reports what it applied.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
