package flow_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// cutoffPool is a pool on the test's schema whose connections the test can
// cut: while cut is set, dials fail, and cutOff terminates the connections
// it already has (found by their application_name).
type cutoffPool struct {
	pool *pgxpool.Pool
	name string
	cut  atomic.Bool
}

func newCutoffPool(t *testing.T, b *testBundle, name string) *cutoffPool {
	t.Helper()
	c := &cutoffPool{name: b.db.Schema + "-" + name}
	cfg, err := pgxpool.ParseConfig(b.db.URL)
	require.NoError(t, err)
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["application_name"] = c.name
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if c.cut.Load() {
			return nil, errors.New("test: database cut off")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	c.pool, err = pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(c.pool.Close)
	return c
}

// cutOff makes the database unreachable for the pool.
func (c *cutoffPool) cutOff(t *testing.T, b *testBundle) {
	t.Helper()
	c.cut.Store(true)
	_, err := b.db.Pool.Exec(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, c.name)
	require.NoError(t, err)
}

// TestMemberVouchesAgainAfterOutage cuts two members off the database for
// longer than their dead_after, then gives it back to one of them only. That
// member's earlier heartbeats do not count: it must not declare the other
// dead before it has itself heartbeated, since it came back, for the
// other's dead_after. (Without the rule, the first member back after a
// PostgreSQL restart longer than dead_after declares every other worker
// dead and hands back all their jobs.) It does declare it dead after that.
func TestMemberVouchesAgainAfterOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	const (
		heartbeat = 50 * time.Millisecond
		deadAfter = 300 * time.Millisecond
	)
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	start := func(name string) (*cutoffPool, *flow.Member) {
		p := newCutoffPool(t, b, name)
		client, err := flow.NewClient(p.pool, &flow.Config{})
		require.NoError(t, err)
		m, err := client.NewMember(flow.MemberConfig{ID: name, HeartbeatInterval: heartbeat, DeadAfter: deadAfter})
		require.NoError(t, err)
		require.NoError(t, m.Join(ctx))
		go m.Run(runCtx) //nolint:errcheck // returns nil when runCtx ends
		return p, m
	}
	first, firstMember := start("first")
	second, secondMember := start("second")

	// Both have been heartbeating (and first sweeping) for longer than
	// dead_after before the outage.
	time.Sleep(2 * deadAfter)
	first.cutOff(t, b)
	second.cutOff(t, b)
	// The outage outlasts dead_after: neither heartbeated for twice that.
	require.Eventually(t, func() bool {
		return time.Since(firstMember.LastHeartbeat()) > 2*deadAfter &&
			time.Since(secondMember.LastHeartbeat()) > 2*deadAfter
	}, time.Minute, 10*time.Millisecond, "heartbeats went on during the outage")

	var backAt time.Time
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT now()`).Scan(&backAt))
	first.cut.Store(false) // first is back; second stays cut off

	deadAt := func() *time.Time {
		var at *time.Time
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT dead_at FROM qf_worker WHERE id = 'second'`).Scan(&at))
		return at
	}
	require.Eventually(t, func() bool { return deadAt() != nil }, time.Minute, 10*time.Millisecond,
		"first never declared second dead")
	at := deadAt()
	require.GreaterOrEqual(t, at.Sub(backAt), deadAfter,
		"first declared second dead %s after it got the database back, before it could vouch for dead_after %s",
		at.Sub(backAt), deadAfter)
	require.True(t, firstMember.LastHeartbeat().After(backAt))
	second.cut.Store(false)
}
