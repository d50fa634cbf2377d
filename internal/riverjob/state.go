package riverjob

import (
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/flowtype"
)

// NodeState maps the state of an enqueued node's job to the node's reported
// state (docs/SPEC.md, "Node states"): what flow.Client.Status, Why and the
// console show for a node whose job exists and that is not final yet.
func NodeState(job rivertype.JobState) flowtype.NodeState {
	switch job {
	case rivertype.JobStateRunning:
		return flowtype.NodeRunning
	case rivertype.JobStateRetryable:
		return flowtype.NodeRetryable
	case rivertype.JobStateCompleted:
		return flowtype.NodeRunning // completed, the node is being settled
	case rivertype.JobStateDiscarded:
		return flowtype.NodeFailed
	case rivertype.JobStateCancelled:
		return flowtype.NodeCancelled
	default: // available, scheduled, pending
		return flowtype.NodeAvailable
	}
}
