// Package observe carries what the runtime did to the metrics: the Observer
// interface that flow.Observer re-declares for users, and Stats, what one
// transaction did, reported once it committed.
package observe

import (
	"time"

	"github.com/quantumflow/quantumflow/flowtype"
)

// Observer is told what the runtime did. See flow.Observer, which has the
// same method set, for the contract.
type Observer interface {
	NodesReleased(n int)
	WorkflowsFinished(status flowtype.WorkflowState, n int)
	WorkflowDuration(status flowtype.WorkflowState, d time.Duration)
	WorkersSwept(dead, requeued, discarded int)
	CompletionBatch(nodes int)
}

// Timing is one workflow that reached a final status and how long it took
// from its start (its creation when it never started) to its end.
type Timing struct {
	Status flowtype.WorkflowState
	Took   time.Duration
}

// Stats counts what one transaction did, to report to the Observer once it
// committed.
type Stats struct {
	// Released counts leaves that got a River job.
	Released int
	// Finished counts workflows that reached a final status, by status.
	Finished map[flowtype.WorkflowState]int
	// Timings holds each of those workflows' durations, when known.
	Timings []Timing
}

// Report tells o about s; a nil o is fine.
func Report(o Observer, s Stats) {
	if o == nil {
		return
	}
	if s.Released > 0 {
		o.NodesReleased(s.Released)
	}
	for status, n := range s.Finished {
		o.WorkflowsFinished(status, n)
	}
	for _, t := range s.Timings {
		o.WorkflowDuration(t.Status, t.Took)
	}
}
