package flow

import (
	"time"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/observe"
)

// Observer is told what the runtime did, for metrics. Set it in
// Config.Observer. Calls happen after the transaction that did the work
// committed, on the goroutine that ran it (a worker's job goroutine, the
// sweep loop, a Cancel call), so implementations must be safe for
// concurrent use and must not block. Work done through CompleteNodeTx in a
// caller's transaction is reported when the job's Work returns, since the
// runtime cannot see that commit.
//
// Embed ObserverDefaults to implement only some methods; methods added to
// Observer later get a default there.
type Observer interface {
	// NodesReleased reports n leaves that got a River job because the
	// nodes they waited for finished (or their group started).
	NodesReleased(n int)

	// WorkflowsFinished reports n workflows that reached a final status:
	// completed, failed or cancelled.
	WorkflowsFinished(status flowtype.WorkflowState, n int)

	// WorkflowDuration reports one workflow that reached a final status
	// (completed, failed or cancelled) and how long it took: from its
	// start (the first of its jobs that started) to its end, or from its
	// submission when it never started. Called once per workflow, after
	// WorkflowsFinished for the same transaction.
	WorkflowDuration(status flowtype.WorkflowState, d time.Duration)

	// WorkersSwept reports a sweep by this process that declared dead
	// workers dead (their heartbeat went stale) and handed back jobs they
	// were running: requeued to run again, discarded when that was their
	// last attempt.
	WorkersSwept(dead, requeued, discarded int)

	// CompletionBatch reports a committed completion transaction of the
	// batched path and how many nodes it completed.
	CompletionBatch(nodes int)
}

// ObserverDefaults implements every Observer method as a no-op.
type ObserverDefaults struct{}

// The runtime's services take an observe.Observer: the two interfaces must
// keep the same method set.
var (
	_ Observer         = ObserverDefaults{}
	_ observe.Observer = Observer(nil)
	_ Observer         = observe.Observer(nil)
)

func (ObserverDefaults) NodesReleased(int)                                      {}
func (ObserverDefaults) WorkflowsFinished(flowtype.WorkflowState, int)          {}
func (ObserverDefaults) WorkflowDuration(flowtype.WorkflowState, time.Duration) {}
func (ObserverDefaults) WorkersSwept(int, int, int)                             {}
func (ObserverDefaults) CompletionBatch(int)                                    {}
