package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// fakeClock is a settable clock for health's staleness and ping cache.
type fakeClock struct{ t atomic.Pointer[time.Time] }

func (c *fakeClock) now() time.Time      { return *c.t.Load() }
func (c *fakeClock) set(t time.Time)     { c.t.Store(&t) }
func (c *fakeClock) add(d time.Duration) { c.set(c.now().Add(d)) }

func readyz(t *testing.T, h *health) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	clock := &fakeClock{}
	clock.set(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	var pings atomic.Int32
	var heartbeat atomic.Pointer[time.Time]
	zero := time.Time{}
	heartbeat.Store(&zero)
	h := &health{
		ping:          func(ctx context.Context) error { pings.Add(1); return db.Pool.Ping(ctx) },
		lastHeartbeat: func() time.Time { return *heartbeat.Load() },
		deadAfter:     5 * time.Second,
		now:           clock.now,
	}

	code, body := readyz(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "starting", body)

	stopped := make(chan struct{})
	h.started(stopped)
	code, body = readyz(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "no heartbeat yet", body)

	beat := clock.now()
	heartbeat.Store(&beat)
	code, body = readyz(t, h)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "ok", body)
	require.EqualValues(t, 1, pings.Load())

	// The ping result is reused for a second.
	clock.add(900 * time.Millisecond)
	code, _ = readyz(t, h)
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 1, pings.Load())
	clock.add(200 * time.Millisecond)
	code, _ = readyz(t, h)
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 2, pings.Load())

	// A heartbeat as old as dead-after: the fleet may be handing back
	// this worker's jobs.
	clock.set(beat.Add(5 * time.Second))
	code, body = readyz(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "last heartbeat 5s ago (dead after 5s)", body)

	beat = clock.now()
	heartbeat.Store(&beat)
	close(stopped)
	code, body = readyz(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "river client stopped", body)

	h.stopping()
	code, body = readyz(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "shutting down", body)

	rec := httptest.NewRecorder()
	h.handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code, "alive while shutting down")
}

func TestReadinessDatabaseDown(t *testing.T) {
	t.Parallel()
	// A real pool to a port that refuses connections.
	pool, err := pgxpool.New(context.Background(), "postgres://qf:s3cret@127.0.0.1:1/qf?sslmode=disable&connect_timeout=1")
	require.NoError(t, err)
	defer pool.Close()
	now := time.Now()
	h := &health{ping: pool.Ping, lastHeartbeat: func() time.Time { return now }, deadAfter: time.Hour, now: time.Now}
	h.started(make(chan struct{}))
	code, body := readyz(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.True(t, strings.HasPrefix(body, "database: "), body)
	require.NotContains(t, body, "s3cret")
}
