package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/migrations"
)

// Values of --isolation.
const (
	isolationDatabase = "database"
	isolationSchema   = "schema"
)

// appParent is the application name of the bench's administrative
// sessions; those of a run's pools and workers start with its schema's
// name (bench.app).
const appParent = "qfbench"

// cleanupTimeout bounds dropping the benchmark database at the end, also
// after Ctrl-C.
const cleanupTimeout = 30 * time.Second

// env is where a run works: a database of its own (or the given one) and a
// fresh, migrated schema in it.
type env struct {
	serverURL string // as given: where the database is created and dropped
	database  string // the dedicated database, "" with --isolation schema
	schema    string
	url       string // database and search_path set: for every pool
	keep      bool
	// note says how the run is isolated, for the report.
	note string
}

// setupEnv creates the database (or, when that is refused, falls back to a
// schema in the given database) and the schema, and migrates it.
func setupEnv(ctx context.Context, cfg *config, stderr io.Writer) (*env, error) {
	name, err := randomName("qfbench_")
	if err != nil {
		return nil, err
	}
	e := &env{serverURL: cfg.DatabaseURL, schema: name, keep: cfg.Keep}
	admin, err := connect(ctx, cfg.DatabaseURL, appParent)
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.WithoutCancel(ctx))

	if cfg.Isolation == isolationDatabase {
		// template0: nobody is ever connected to it, so CREATE DATABASE
		// cannot fail because another session uses the template.
		_, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0")
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			e.database = name
			e.note = "database " + name + " of its own: pg_stat_database counts only the benchmark's sessions"
		case errors.As(err, &pgErr) && pgErr.Code == "42501": // insufficient_privilege
			fmt.Fprintf(stderr, "bench: may not create a database (%s); using a schema in the given database, whose other sessions then count in pg_stat_database\n", pgErr.Message)
		default:
			return nil, fmt.Errorf("create database %s: %w", name, err)
		}
	}
	if e.note == "" {
		e.note = "schema " + name + " in the given database: other sessions of that database count in pg_stat_database"
	}
	if e.url, err = withDatabase(cfg.DatabaseURL, e.database, name); err != nil {
		_ = e.cleanup(stderr)
		return nil, err
	}
	conn, err := connect(ctx, e.url, appParent)
	if err != nil {
		_ = e.cleanup(stderr)
		return nil, err
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		_ = e.cleanup(stderr)
		return nil, fmt.Errorf("create schema %s: %w", name, err)
	}
	pool, err := cliutil.OpenPool(ctx, e.url, cliutil.PoolOptions{MaxConns: 2, ApplicationName: appParent})
	if err != nil {
		_ = e.cleanup(stderr)
		return nil, err
	}
	defer pool.Close()
	if _, err := migrations.Migrate(ctx, pool); err != nil {
		_ = e.cleanup(stderr)
		return nil, fmt.Errorf("migrate schema %s: %w", name, err)
	}
	return e, nil
}

// cleanup drops the database (or the schema) unless --keep. It uses its own
// bounded context: it runs after Ctrl-C too.
func (e *env) cleanup(stderr io.Writer) error {
	if e.keep {
		what := "schema " + e.schema
		if e.database != "" {
			what = "database " + e.database + ", schema " + e.schema
		}
		fmt.Fprintf(stderr, "bench: kept %s\n", what)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if e.database != "" {
		admin, err := connect(ctx, e.serverURL, appParent)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", e.database, err)
		}
		defer admin.Close(ctx)
		// WITH (FORCE) ends any session a killed worker left behind.
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{e.database}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", e.database, err)
		}
		return nil
	}
	conn, err := connect(ctx, e.url, appParent)
	if err != nil {
		return fmt.Errorf("drop schema %s: %w", e.schema, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{e.schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", e.schema, err)
	}
	return nil
}

// openPool opens a pool on the benchmark schema (plan_cache_mode =
// force_custom_plan, as every pool of the bench).
func (e *env) openPool(ctx context.Context, maxConns int, app string) (*pgxpool.Pool, error) {
	return cliutil.OpenPool(ctx, e.url, cliutil.PoolOptions{MaxConns: int32(maxConns), ApplicationName: app})
}

// truncate empties the tables that a phase fills, so every phase starts
// from empty tables and its rows are the only ones its queries see.
func truncate(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, "TRUNCATE river_job, qf_node, qf_workflow"); err != nil {
		return fmt.Errorf("truncate river_job, qf_node, qf_workflow: %w", err)
	}
	return nil
}

// connect opens one connection with application_name app.
func connect(ctx context.Context, databaseURL, app string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database URL %s does not parse: %s", cliutil.Redact(databaseURL), cliutil.Redact(err.Error()))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	cfg.RuntimeParams["application_name"] = app
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %s", cliutil.Describe(databaseURL), cliutil.Redact(err.Error()))
	}
	return conn, nil
}

// withDatabase returns databaseURL pointed at database (unless empty) with
// search_path set to schema. Both names are generated by randomName.
func withDatabase(databaseURL, database, schema string) (string, error) {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		u, err := url.Parse(databaseURL)
		if err != nil {
			return "", fmt.Errorf("database URL %s does not parse: %w", cliutil.Redact(databaseURL), err)
		}
		if database != "" {
			u.Path = "/" + database
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// key=value form: a later key overrides an earlier one.
	s := strings.TrimSpace(databaseURL)
	if database != "" {
		s += " dbname=" + database
	}
	return s + " search_path=" + schema, nil
}

// randomName returns prefix followed by 12 random hex digits: a valid,
// unquoted-safe identifier.
func randomName(prefix string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}
