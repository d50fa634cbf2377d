package noderun

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// HeldKeep is how long a job stays in a Held report after its Work
// returned: River's own completer writes the job's final state a moment
// later (for a job that failed, snoozed or is not part of a workflow), and
// until it does the job is still running in river_job.
const HeldKeep = 30 * time.Second

// Held is the set of River jobs this process runs: every job whose Work
// the middleware entered, and for HeldKeep after it returned. The fleet
// member uses it to tell a job this process never received from one it
// runs, and to cancel what the process runs when the fleet declared it
// dead. A Held that was never armed (the middleware was not handed to a
// River client) reports nothing.
type Held struct {
	armed atomic.Bool

	mu      sync.Mutex
	running map[int64]int // job id -> Work calls in flight
	calls   map[*heldCall]struct{}
	done    map[int64]time.Time
	// deadHolders are River client ids the fleet declared dead: a job of
	// theirs that enters Work after CancelAll is handed on at once.
	deadHolders map[string]bool
}

// heldCall is one Work call in flight.
type heldCall struct {
	id     int64
	cancel context.CancelCauseFunc
	// dead is set by CancelAll: the fleet handed the job to another worker.
	dead bool
}

// NewHeld returns an empty, unarmed set.
func NewHeld() *Held {
	return &Held{running: map[int64]int{}, calls: map[*heldCall]struct{}{}, done: map[int64]time.Time{}, deadHolders: map[string]bool{}}
}

// Arm records that the middleware is installed in a River client, so the
// set is complete and worth reporting.
func (h *Held) Arm() { h.armed.Store(true) }

// Armed reports whether Arm was called.
func (h *Held) Armed() bool { return h.armed.Load() }

// start records that a Work call of job id, held by River client holder,
// began; cancel cancels its context. A call of a holder declared dead (see
// CancelAll) is cancelled at once.
func (h *Held) start(id int64, holder string, cancel context.CancelCauseFunc) *heldCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := &heldCall{id: id, cancel: cancel}
	h.calls[c] = struct{}{}
	h.running[id]++
	delete(h.done, id)
	if holder != "" && h.deadHolders[holder] {
		c.dead = true
		cancel(ErrDeclaredDead)
	}
	return c
}

// finish records that Work call c returned. keep keeps the job in
// Snapshot for HeldKeep, until River's own completer has written its
// outcome; a job whose completion already committed in flow's transaction
// is not kept (at thousands of nodes a second, keeping those would make
// every Snapshot tens of thousands of ids long).
func (h *Held) finish(c *heldCall, keep bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.calls, c)
	if h.running[c.id] <= 1 {
		delete(h.running, c.id)
		if keep {
			h.done[c.id] = time.Now()
		}
	} else {
		h.running[c.id]--
	}
}

// Snapshot returns the ids of the jobs running now or finished within
// HeldKeep, and forgets older ones.
func (h *Held) Snapshot() []int64 {
	cutoff := time.Now().Add(-HeldKeep)
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]int64, 0, len(h.running)+len(h.done))
	for id := range h.running {
		out = append(out, id)
	}
	for id, at := range h.done {
		if at.Before(cutoff) {
			delete(h.done, id)
			continue
		}
		out = append(out, id)
	}
	return out
}

// CancelAll records that the fleet declared River client holder dead and
// cancels the context of every Work call in flight with ErrDeclaredDead, as
// it will any call of that holder that starts later (a job fetched a moment
// before). It returns how many it cancelled now.
func (h *Held) CancelAll(holder string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deadHolders[holder] = true
	for c := range h.calls {
		c.dead = true
		c.cancel(ErrDeclaredDead)
	}
	return len(h.calls)
}

// handedOn reports whether CancelAll cancelled Work call c: its worker was
// declared dead and the job given to another. The middleware asks this
// rather than the context's cause, which River may have set first (it
// cancels jobs' contexts when its client stops).
func (h *Held) handedOn(c *heldCall) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return c.dead
}
