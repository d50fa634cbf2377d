// Package flowtype holds the types that QuantumFlow's packages and their
// users share: the states of workflows and nodes. It mirrors River's
// rivertype, so that code reading a status (the CLI, a console, a test)
// branches on named constants instead of string literals.
package flowtype

// WorkflowState is the status of a workflow.
type WorkflowState string

const (
	// WorkflowPending is a submitted workflow none of whose jobs has
	// started yet.
	WorkflowPending WorkflowState = "pending"
	// WorkflowRunning is a workflow with at least one job started and
	// nodes still to finish.
	WorkflowRunning WorkflowState = "running"
	// WorkflowCompleted is a workflow every node of which completed or was
	// skipped.
	WorkflowCompleted WorkflowState = "completed"
	// WorkflowFailed is a workflow that finished with at least one node
	// failed or cancelled.
	WorkflowFailed WorkflowState = "failed"
	// WorkflowCancelled is a workflow cancelled by a user.
	WorkflowCancelled WorkflowState = "cancelled"
)

// WorkflowStates returns every workflow state, in lifecycle order.
func WorkflowStates() []WorkflowState {
	return []WorkflowState{WorkflowPending, WorkflowRunning, WorkflowCompleted, WorkflowFailed, WorkflowCancelled}
}

// IsFinal reports whether the workflow will not change again by itself:
// completed, failed or cancelled (a retry may still rerun it).
func (s WorkflowState) IsFinal() bool {
	switch s {
	case WorkflowCompleted, WorkflowFailed, WorkflowCancelled:
		return true
	}
	return false
}

// Valid reports whether s is one of the workflow states.
func (s WorkflowState) Valid() bool {
	switch s {
	case WorkflowPending, WorkflowRunning, WorkflowCompleted, WorkflowFailed, WorkflowCancelled:
		return true
	}
	return false
}

// NodeState is the state of a node. A node's row stores one of waiting,
// throttled, enqueued, active, completed, failed, cancelled or skipped; a status report
// shows enqueued nodes by their River job's state (available, running,
// retryable) and active ones as running.
type NodeState string

const (
	// NodeWaiting is a node whose deps (or whose group) have not all
	// finished.
	NodeWaiting NodeState = "waiting"
	// NodeThrottled is a leaf whose deps are done but whose concurrency key
	// has no free slot: it waits in the key's queue (priority, then the
	// order leaves became ready) and gets its job in the transaction that
	// frees a slot. It has no River job yet.
	NodeThrottled NodeState = "throttled"
	// NodePaused is a leaf whose deps are done but whose workflow or kind
	// is paused: it gets its job when the pause is lifted.
	NodePaused NodeState = "paused"
	// NodeScheduled is a reported state: the node's job waits for a time
	// (a delay, not_before, a retry's backoff, a rate limit's next start).
	NodeScheduled NodeState = "scheduled"
	// NodeEnqueued is a stored state only: the leaf has a River job that
	// has not finished. Reports show the job's state instead.
	NodeEnqueued NodeState = "enqueued"
	// NodeActive is a stored state only: a group, or an expanded node,
	// whose members are running. Reports show it as NodeRunning.
	NodeActive NodeState = "active"
	// NodeAvailable is a reported state: the node's job waits for a worker.
	NodeAvailable NodeState = "available"
	// NodeRunning is a reported state: the node's job is running, or the
	// group's members are.
	NodeRunning NodeState = "running"
	// NodeRetryable is a reported state: the node's job failed an attempt
	// and will be retried.
	NodeRetryable NodeState = "retryable"
	// NodeCompleted is a node that finished successfully.
	NodeCompleted NodeState = "completed"
	// NodeFailed is a node that used up its attempts, or a group one of
	// whose members failed or was cancelled.
	NodeFailed NodeState = "failed"
	// NodeCancelled is a node that will never run: its workflow was
	// cancelled, or a dep failed and its on_dep_failure is cancel.
	NodeCancelled NodeState = "cancelled"
	// NodeSkipped is a node that did not run because a dep failed and its
	// on_dep_failure is skip; it counts as done.
	NodeSkipped NodeState = "skipped"
)

// IsFinal reports whether the node will not change again by itself:
// completed, failed, cancelled or skipped.
func (s NodeState) IsFinal() bool {
	switch s {
	case NodeCompleted, NodeFailed, NodeCancelled, NodeSkipped:
		return true
	}
	return false
}

// IsFailure reports whether the state counts as a failure for the node's
// dependents and its group: failed or cancelled. Skipped and completed are
// successes.
func (s NodeState) IsFailure() bool {
	return s == NodeFailed || s == NodeCancelled
}
