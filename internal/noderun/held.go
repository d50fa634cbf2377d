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
	running map[int64]*heldJob
	done    map[int64]time.Time
}

type heldJob struct {
	calls  int // Work calls in flight
	cancel context.CancelCauseFunc
	// dead is set by CancelAll: the fleet handed the job to another worker.
	dead bool
}

// NewHeld returns an empty, unarmed set.
func NewHeld() *Held {
	return &Held{running: map[int64]*heldJob{}, done: map[int64]time.Time{}}
}

// Arm records that the middleware is installed in a River client, so the
// set is complete and worth reporting.
func (h *Held) Arm() { h.armed.Store(true) }

// Armed reports whether Arm was called.
func (h *Held) Armed() bool { return h.armed.Load() }

// start records that Work of job id began; cancel cancels its context.
func (h *Held) start(id int64, cancel context.CancelCauseFunc) {
	h.mu.Lock()
	j := h.running[id]
	if j == nil {
		j = &heldJob{}
		h.running[id] = j
	}
	j.calls++
	j.cancel = cancel
	delete(h.done, id)
	h.mu.Unlock()
}

// finish records that Work of job id returned.
func (h *Held) finish(id int64) {
	h.mu.Lock()
	if j := h.running[id]; j != nil && j.calls > 1 {
		j.calls--
	} else {
		delete(h.running, id)
		h.done[id] = time.Now()
	}
	h.mu.Unlock()
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

// CancelAll cancels the context of every job running now, with cause, and
// returns how many it cancelled.
func (h *Held) CancelAll(cause error) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, j := range h.running {
		j.dead = true
		j.cancel(cause)
	}
	return len(h.running)
}

// handedOn reports whether CancelAll cancelled the running job id: its
// worker was declared dead and the job given to another. The middleware
// asks this rather than the context's cause, which River may have set
// first (it cancels jobs' contexts when its client stops).
func (h *Held) handedOn(id int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	j := h.running[id]
	return j != nil && j.dead
}
