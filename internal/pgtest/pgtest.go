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
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/migrations"
)

// DefaultURL is used when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DB is one test's private schema.
type DB struct {
	// Pool is connected with search_path set to Schema.
	Pool *pgxpool.Pool
	// Schema is the schema's name, qft_ followed by random hex.
	Schema string
	// URL connects to the same server with search_path set to Schema, for
	// child processes.
	URL string
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	schema := "qft_" + hex.EncodeToString(b[:])

	admin, err := pgx.Connect(ctx, serverURL)
	require.NoError(t, err, "connect to test PostgreSQL (set TEST_DATABASE_URL or run scripts/test.sh)")
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)

	u, err := url.Parse(serverURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	cfg, err := pgxpool.ParseConfig(u.String())
	require.NoError(t, err)
	cfg.MaxConns = 20
	// A cached generic plan for River's fetch query can collapse throughput
	// once statistics say river_job is empty (see DESIGN, measured facts).
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)

	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			t.Logf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return &DB{Pool: pool, Schema: schema, URL: u.String()}
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
