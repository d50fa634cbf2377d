package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// Readiness: how long a database ping result is reused, and how long a ping
// may take.
const (
	pingCacheFor = time.Second
	pingTimeout  = time.Second
)

// Lifecycle phases of the worker, as /readyz reports them.
const (
	phaseStarting int32 = iota
	phaseRunning
	phaseStopping
)

// health answers /healthz and /readyz.
type health struct {
	// ping checks the database.
	ping func(context.Context) error
	// lastHeartbeat is the fleet member's last heartbeat.
	lastHeartbeat func() time.Time
	// deadAfter is how stale a heartbeat may be before the fleet hands back
	// this worker's jobs; a worker whose heartbeat is that old is not ready.
	deadAfter time.Duration
	// riverStopped is closed when the River client stopped; nil before it
	// started.
	riverStopped atomic.Pointer[<-chan struct{}]
	phase        atomic.Int32
	now          func() time.Time

	mu      sync.Mutex // serialises pings; guards pingAt and pingErr
	pingAt  time.Time
	pingErr error
}

// started records that the River client started; stopped is its Stopped
// channel.
func (h *health) started(stopped <-chan struct{}) {
	h.riverStopped.Store(&stopped)
	h.phase.CompareAndSwap(phaseStarting, phaseRunning)
}

// stopping marks the worker not ready for good.
func (h *health) stopping() { h.phase.Store(phaseStopping) }

// ready reports whether the worker is ready, and why not.
func (h *health) ready(ctx context.Context) (bool, string) {
	switch h.phase.Load() {
	case phaseStarting:
		return false, "starting"
	case phaseStopping:
		return false, "shutting down"
	}
	if p := h.riverStopped.Load(); p != nil {
		select {
		case <-*p:
			return false, "river client stopped"
		default:
		}
	}
	last := h.lastHeartbeat()
	if last.IsZero() {
		return false, "no heartbeat yet"
	}
	if age := h.now().Sub(last); age >= h.deadAfter {
		return false, fmt.Sprintf("last heartbeat %s ago (dead after %s)", age.Round(time.Millisecond), h.deadAfter)
	}
	if err := h.pingCached(ctx); err != nil {
		return false, "database: " + cliutil.Redact(err.Error())
	}
	return true, "ok"
}

// pingCached pings the database at most once per pingCacheFor; concurrent
// callers wait for the ping in flight.
func (h *health) pingCached(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.pingAt.IsZero() && h.now().Sub(h.pingAt) < pingCacheFor {
		return h.pingErr
	}
	pingCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pingTimeout)
	defer cancel()
	h.pingErr = h.ping(pingCtx)
	h.pingAt = h.now()
	return h.pingErr
}

// handler serves /healthz, /readyz and metrics at /metrics.
func (h *health) handler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writePlain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, reason := h.ready(r.Context())
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writePlain(w, code, reason)
	})
	return mux
}

func writePlain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintln(w, body)
}
