package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// The fleet through PgBouncer in transaction pooling mode: ten workers
// share bouncerServerConns server connections. Workers run with
// --poll-only (LISTEN cannot pass transaction pooling) and every binary's
// URL has default_query_exec_mode=exec (no prepared statement survives a
// transaction); the test database's public schema is the schema (search_path
// cannot pass as a startup parameter).
const (
	bouncerWorkers     = 10
	bouncerServerConns = 20
	bouncerPoolConns   = "8" // per worker: 80 client connections on 20 server connections
)

// bouncerEnv is a test's database reached through a PgBouncer of its own:
// URL (for the binaries) goes through PgBouncer; Pool, for the test's
// checks, connects directly. The database is migrated by `worker migrate`
// through PgBouncer. stats reports PgBouncer's connections to it.
type bouncerEnv struct {
	*env
	bouncer *pgtest.Bouncer
	db      string
}

func newBouncerEnv(t *testing.T) *bouncerEnv {
	t.Helper()
	envSlots <- struct{}{}
	t.Cleanup(func() { <-envSlots })
	db := pgtest.NewDatabase(t)
	b := pgtest.StartPgBouncer(t, bouncerServerConns)
	e := &bouncerEnv{
		env:     &env{DB: &pgtest.DB{Pool: db.Pool, Schema: db.Schema, URL: b.URL(db.Database), Database: db.Database}, t: t},
		bouncer: b,
		db:      db.Database,
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, workerBin, "migrate", "--log-format", "json")
	cmd.Dir = moduleRoot
	cmd.Env = append(baseEnv(), "DATABASE_URL="+e.URL)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "worker migrate through PgBouncer:\n%s", out)
	return e
}

// connections reports how many server and client connections PgBouncer has
// for the test's database, from its admin console (SHOW SERVERS, SHOW
// CLIENTS; simple protocol only).
func (e *bouncerEnv) connections(ctx context.Context) (servers, clients int, err error) {
	conn, err := pgconn.Connect(ctx, strings.Replace(e.bouncer.URL("pgbouncer"), "&default_query_exec_mode=exec", "", 1))
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx) //nolint:errcheck // read-only
	count := func(show string) (int, error) {
		res, err := conn.Exec(ctx, show).ReadAll()
		if err != nil {
			return 0, err
		}
		n := 0
		for _, r := range res {
			col := -1
			for i, f := range r.FieldDescriptions {
				if f.Name == "database" {
					col = i
				}
			}
			for _, row := range r.Rows {
				if col >= 0 && bytes.Equal(row[col], []byte(e.db)) {
					n++
				}
			}
		}
		return n, nil
	}
	if servers, err = count("SHOW SERVERS"); err != nil {
		return 0, 0, err
	}
	clients, err = count("SHOW CLIENTS")
	return servers, clients, err
}

// watchConnections samples connections every 100 ms until the test ends
// and returns a function that reports the largest counts seen.
func (e *bouncerEnv) watchConnections(t *testing.T) func() (servers, clients int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var maxServers, maxClients int
	var lastErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			s, c, err := e.connections(ctx)
			mu.Lock()
			if err != nil && ctx.Err() == nil {
				lastErr = err
			}
			maxServers, maxClients = max(maxServers, s), max(maxClients, c)
			mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		require.NoError(t, lastErr, "PgBouncer's admin console")
		return maxServers, maxClients
	}
}

// TestPgBouncerThousandNodes runs a workflow of 1 003 leaves on ten
// workers through PgBouncer in transaction mode.
func TestPgBouncerThousandNodes(t *testing.T) {
	t.Parallel()
	e := newBouncerEnv(t)
	peak := e.watchConnections(t)
	specPath, leaves := chaosSpec(t, 10, 98, 5)
	require.GreaterOrEqual(t, leaves, 1000)
	for i := 0; i < bouncerWorkers; i++ {
		e.startWorker(t, "--id", "bouncer-"+strconv.Itoa(i), "--poll-only", "--pool-max-conns", bouncerPoolConns, "--queues", "default=20,long=1")
	}
	start := time.Now()
	id := e.submit(specPath)
	r := e.enqueue("wait", "--timeout", "3m", id)
	require.Zero(t, r.code, r.String())
	t.Logf("%d leaves in %s through PgBouncer", leaves, time.Since(start).Round(time.Millisecond))
	require.Equal(t, "completed", workflowStatus(t, e.Pool, id))
	require.Equal(t, "completed", e.statusJSON(id)["status"])
	checkDoneOnce(t, e.Pool, id, leaves)
	checkNoEarlyStart(t, e.Pool, id)
	servers, clients := peak()
	t.Logf("PgBouncer peak: %d server connections, %d client connections", servers, clients)
	require.LessOrEqual(t, servers, bouncerServerConns)
	require.Positive(t, servers)
}

// TestPgBouncerChaosKillWorkers is TestChaosKillWorkers through PgBouncer
// in transaction mode with ten workers (one steady, nine killed in turn), on
// a smaller workflow (2 003 leaves instead of 5 000) to keep CI short. Its
// leaves sleep 800 ms, so the nine workers' 180 slots stay busy for about
// ten seconds: long enough for several kills that catch running jobs.
func TestPgBouncerChaosKillWorkers(t *testing.T) {
	t.Parallel()
	e := newBouncerEnv(t)
	peak := e.watchConnections(t)
	specPath, leaves := chaosSpec(t, 20, 98, 800)
	chaosKillWorkers(t, e.env, specPath, leaves, bouncerWorkers-1, "--poll-only", "--pool-max-conns", bouncerPoolConns)
	servers, clients := peak()
	t.Logf("PgBouncer peak: %d server connections, %d client connections", servers, clients)
	require.LessOrEqual(t, servers, bouncerServerConns)
}
