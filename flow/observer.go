package flow

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
	WorkflowsFinished(status string, n int)

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

func (ObserverDefaults) NodesReleased(int)             {}
func (ObserverDefaults) WorkflowsFinished(string, int) {}
func (ObserverDefaults) WorkersSwept(int, int, int)    {}

// settleStats counts what one transaction did, to report to the Observer
// once it committed.
type settleStats struct {
	released int
	finished map[string]int // workflow status -> count
}

func (s *settleStats) add(o settleStats) {
	s.released += o.released
	for k, v := range o.finished {
		if s.finished == nil {
			s.finished = map[string]int{}
		}
		s.finished[k] += v
	}
}

// report tells the observer about s, if there is one.
func (c *Client) report(s settleStats) {
	obs := c.config.Observer
	if obs == nil {
		return
	}
	if s.released > 0 {
		obs.NodesReleased(s.released)
	}
	for status, n := range s.finished {
		obs.WorkflowsFinished(status, n)
	}
}
