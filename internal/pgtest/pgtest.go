// Package pgtest gives each test its own freshly migrated PostgreSQL schema
// on a real server, so tests run in parallel and leave nothing behind.
//
// The server comes from TEST_DATABASE_URL (scripts/test.sh sets it, starting
// a private PostgreSQL when none is listening), falling back to
// postgres://postgres@127.0.0.1:5432/postgres. It is for tests only.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/migrations"
)

// DefaultURL is used when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Connection budget. Parallel tests of every package share one server,
// whose max_connections is 100 by default, 97 of them usable by tests (3
// are reserved for superusers). go test runs up to -p (GOMAXPROCS) package
// binaries at once, and -parallel (GOMAXPROCS) tests in each, so on a
// machine with many cores an unbounded pgtest would open hundreds of
// connections. Instead each test process holds at most MaxSchemas schemas
// at once (New blocks until one is free), each with a pool of at most
// PoolMaxConns connections plus one short-lived admin connection that
// creates and drops the schema:
//
//	scripts/test.sh runs at most 6 test packages at once (go test -p), of
//	the ten that use pgtest:
//	6 × MaxSchemas × (PoolMaxConns + 1) = 6 × 2 × (5 + 1) = 72 ≤ 97
//
// which leaves 25 connections for the child processes some tests start on
// their schema (flow's crash test worker: 10; e2e worker processes: 5 each,
// with e2e's own envSlots bounding its tests) and for people looking at the
// server. A test that starts such processes must keep their pools small.
// The semaphore is per process: a cross-process one would need the server
// (advisory locks) and a connection of its own per waiting test.
const (
	// MaxSchemas is how many schemas one test process holds at once.
	MaxSchemas = 2
	// PoolMaxConns is the size of each test schema's pool.
	PoolMaxConns = 5
)

// schemaSlots holds one token per schema this process holds.
var schemaSlots = make(chan struct{}, MaxSchemas)

// DB is one test's private schema.
type DB struct {
	// Pool is connected with search_path set to Schema.
	Pool *pgxpool.Pool
	// Schema is the schema's name, qft_ followed by random hex.
	Schema string
	// URL connects to the same server with search_path set to Schema, for
	// child processes.
	URL string
	// Database is the name of the database NewDatabase created; empty for
	// the others.
	Database string
}

// ServerURL returns the server the tests use.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// New creates a schema, migrates it (River's and QuantumFlow's migrations),
// and returns a pool bound to it. The schema is dropped when the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	db := NewEmpty(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := migrations.Migrate(ctx, db.Pool)
	require.NoError(t, err)
	return db
}

// NewAt is New on the server at serverURL instead of ServerURL(), for tests
// that run a server of their own (to restart it, say).
func NewAt(t testing.TB, serverURL string) *DB {
	t.Helper()
	db := newEmptyAt(t, serverURL)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := migrations.Migrate(ctx, db.Pool)
	require.NoError(t, err)
	return db
}

// NewEmpty is New without the migrations: an empty schema.
func NewEmpty(t testing.TB) *DB {
	t.Helper()
	return newEmptyAt(t, ServerURL())
}

func newEmptyAt(t testing.TB, serverURL string) *DB {
	t.Helper()
	// Registered first, so it runs last: the slot is released only after
	// the pool is closed and the schema dropped. A test must not hold two
	// schemas while waiting for a third (MaxSchemas is per process).
	schemaSlots <- struct{}{}
	t.Cleanup(func() { <-schemaSlots })
	schema := randomName(t)
	adminExec(t, serverURL, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	u, err := url.Parse(serverURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	pool := openPool(t, u.String())
	t.Cleanup(func() {
		pool.Close()
		dropOnCleanup(t, serverURL, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	return &DB{Pool: pool, Schema: schema, URL: u.String()}
}

// randomName returns qft_ followed by random hex: a schema's or database's
// name no other test uses.
func randomName(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return "qft_" + hex.EncodeToString(b[:])
}

// adminExec runs one statement on a connection of its own to serverURL.
func adminExec(t testing.TB, serverURL, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, serverURL)
	require.NoError(t, err, "connect to test PostgreSQL (set TEST_DATABASE_URL or run scripts/test.sh)")
	defer func() {
		if err := admin.Close(ctx); err != nil {
			t.Errorf("pgtest: close admin connection: %v", err)
		}
	}()
	_, err = admin.Exec(ctx, sql)
	require.NoError(t, err)
}

// openPool opens a test pool of PoolMaxConns connections on url.
func openPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = PoolMaxConns
	// A cached generic plan for River's fetch query can collapse throughput
	// once statistics say river_job is empty (docs/BENCHMARKS.md, "Reference measurements").
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	return pool
}

// dropOnCleanup runs a DROP statement at cleanup on a connection of its
// own, reporting (not ignoring) its errors.
func dropOnCleanup(t testing.TB, serverURL, sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Errorf("pgtest: %s: %v", sql, err)
		return
	}
	defer func() {
		if err := conn.Close(ctx); err != nil {
			t.Errorf("pgtest: close admin connection: %v", err)
		}
	}()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Errorf("pgtest: %s: %v", sql, err)
	}
}

// Counts returns the number of rows of every QuantumFlow and River table
// that holds work, keyed by table name: a test compares two snapshots to show
// that an operation wrote nothing.
func Counts(t testing.TB, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"qf_workflow", "qf_node", "qf_kind", "river_job"} {
		var n int
		require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
		out[table] = n
	}
	return out
}

// NewDatabase creates an empty database of its own on the test server
// (qft_ followed by random hex), for tests that reach it through a
// PgBouncer: a PgBouncer cannot pass search_path as a startup parameter, so
// such a test works in the public schema of a database of its own, which
// PgBouncer's wildcard entry reaches by name. Pool and URL connect to it
// directly (not through PgBouncer); Schema is "public". The database is
// dropped, with any sessions still on it, when the test ends. It counts
// against MaxSchemas like New.
func NewDatabase(t testing.TB) *DB {
	t.Helper()
	schemaSlots <- struct{}{}
	t.Cleanup(func() { <-schemaSlots })
	name := randomName(t)
	serverURL := ServerURL()
	adminExec(t, serverURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	u, err := url.Parse(serverURL)
	require.NoError(t, err)
	u.Path = "/" + name
	pool := openPool(t, u.String())
	t.Cleanup(func() {
		pool.Close()
		dropOnCleanup(t, serverURL, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return &DB{Pool: pool, Schema: "public", URL: u.String(), Database: name}
}

// Bouncer is a PgBouncer of one test's own, in front of the test server.
type Bouncer struct {
	// Addr is host:port of the PgBouncer.
	Addr string
	user string
}

// StartPgBouncer starts a PgBouncer in transaction pooling mode with
// poolSize server connections per database (default_pool_size and
// max_db_connections) in front of the test server, through
// scripts/ensure-pgbouncer.sh (which installs Debian's pgbouncer when it is
// missing and we are root). It fails the test when PgBouncer cannot be had;
// it never skips. PgBouncer is stopped when the test ends.
func StartPgBouncer(t testing.TB, poolSize int) *Bouncer {
	t.Helper()
	script, err := repoFile("scripts/ensure-pgbouncer.sh")
	require.NoError(t, err)
	server, err := pgx.ParseConfig(ServerURL())
	require.NoError(t, err)
	// PgBouncer runs as the postgres OS user when we are root: its folder
	// must be reachable by it, which t.TempDir's is not.
	dir, err := os.MkdirTemp("/var/tmp", "qf-pgbouncer-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	run := func(args ...string) (string, error) {
		cmd := exec.Command(script, args...)
		cmd.Env = append(os.Environ(),
			"QF_PG_HOST="+server.Host,
			fmt.Sprintf("QF_PG_PORT=%d", server.Port),
			fmt.Sprintf("QF_BOUNCER_PORT=%d", port),
			"QF_BOUNCER_POOL_MODE=transaction",
			fmt.Sprintf("QF_BOUNCER_POOL_SIZE=%d", poolSize),
			"QF_BOUNCER_USERS="+server.User,
		)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("%s %s: %w\n%s", script, strings.Join(args, " "), err, stderr.String())
		}
		return string(out), nil
	}
	t.Cleanup(func() {
		if _, err := run("--stop", dir); err != nil {
			t.Errorf("pgtest: stop pgbouncer: %v", err)
		}
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "pgbouncer.log")); err == nil {
				t.Logf("pgbouncer log (last 4 kB):\n%s", tail(string(log), 4096))
			}
		}
		_ = os.RemoveAll(dir)
	})
	_, err = run(dir)
	require.NoError(t, err, "PgBouncer is required by this test")
	return &Bouncer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), user: server.User}
}

// URL returns the URL of database db through the PgBouncer, with pgx's
// default_query_exec_mode=exec, which transaction pooling needs.
func (b *Bouncer) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(b.user), Host: b.Addr, Path: "/" + db, RawQuery: "sslmode=disable&default_query_exec_mode=exec"}
	return u.String()
}

// repoFile finds path relative to the module root, walking up from the
// working directory (a test's is its package's folder).
func repoFile(path string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, path), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
