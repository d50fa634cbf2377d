package flow

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/noderun"
	"github.com/quantumflow/quantumflow/internal/release"
)

// Sentinel errors returned by the runtime. Callers branch on them with
// errors.Is; the returned errors wrap them with the workflow or node involved.
var (
	// ErrNotFound is returned when a workflow id names no workflow.
	ErrNotFound = errors.New("workflow not found")

	// ErrAlreadyFinished is returned, as a *StateError, by Cancel for a
	// workflow that is already completed, failed or cancelled. Nothing was
	// changed.
	ErrAlreadyFinished = errors.New("workflow already finished")

	// ErrStillActive is returned, as a *StateError, by Retry for a
	// workflow that is pending or running. Nothing was changed.
	ErrStillActive = errors.New("workflow is still active")

	// ErrNotRetryable is returned, as a *StateError, by Retry for a
	// workflow that completed: there is nothing to rerun.
	ErrNotRetryable = errors.New("workflow completed; nothing to retry")

	// ErrKeyConflict is returned by Submit when the idempotency key is held by
	// a workflow submitted with a different spec. The error names that
	// workflow.
	ErrKeyConflict = errors.New("idempotency key already used by a different spec")

	// ErrOutputTooLarge is returned when a node's output exceeds
	// dag.MaxOutputBytes.
	ErrOutputTooLarge = release.ErrOutputTooLarge

	// ErrNotInNode is returned by the node context helpers (Input,
	// DepOutputs, SetOutput, Expand, CompleteNodeTx) when called outside a
	// job that belongs to a workflow.
	ErrNotInNode = noderun.ErrNotInNode

	// ErrTimeout is the cause of a node's context when its timeout expires;
	// the attempt fails with an error that wraps it and says it timed out.
	ErrTimeout = noderun.ErrTimeout

	// ErrInvalidRetryMode is returned by Retry for a mode it does not know.
	ErrInvalidRetryMode = errors.New("invalid retry mode")

	// ErrInvalidID is returned for a workflow id that is not a UUID.
	ErrInvalidID = errors.New("invalid workflow id")
)

// StateError is returned when a workflow's state refuses an operation:
// Cancel of a finished workflow (it matches ErrAlreadyFinished), Retry of a
// pending or running one (ErrStillActive) or of a completed one
// (ErrNotRetryable). It carries the workflow and the state it was found in,
// so a caller can say so without reading the workflow again.
type StateError struct {
	// WorkflowID is the workflow's id.
	WorkflowID string
	// State is the workflow's state when the operation was refused.
	State flowtype.WorkflowState
	// Reason is the sentinel the error matches.
	Reason error
}

func (e *StateError) Error() string {
	if errors.Is(e.Reason, ErrNotRetryable) {
		return e.Reason.Error()
	}
	return fmt.Sprintf("%s (it is %s)", e.Reason, e.State)
}

// Is makes errors.Is(err, e.Reason) true.
func (e *StateError) Is(target error) bool { return target == e.Reason }

// KeyConflictError is the error returned for ErrKeyConflict; it names the
// workflow that holds the key.
type KeyConflictError struct {
	Key        string
	WorkflowID string
}

func (e *KeyConflictError) Error() string {
	return fmt.Sprintf("idempotency key %q is held by workflow %s, submitted with a different spec", e.Key, e.WorkflowID)
}

// Is makes errors.Is(err, ErrKeyConflict) true.
func (e *KeyConflictError) Is(target error) bool { return target == ErrKeyConflict }

func validateID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return fmt.Errorf("%w %q: want a UUID such as 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f", ErrInvalidID, id)
	}
	return nil
}

// PermanentError is the error Permanent returns.
type PermanentError = noderun.PermanentError

// Permanent marks err as a failure that retrying cannot fix (bad input, a
// missing object): a worker that returns Permanent(err) fails its node at
// once, on this attempt, whatever attempts it has left. The node becomes
// failed and its job discarded, and its dependents follow their
// on_dep_failure policy. errors.Is and errors.As see err through it.
func Permanent(err error) error { return &PermanentError{Err: err} }

// ErrNodeFinished is returned by CancelNode for a node that is already
// completed, failed, cancelled or skipped. Nothing was changed.
var ErrNodeFinished = release.ErrNodeFinished

// ErrNodeIsGroup is returned by CancelNode for a group or an expanded
// node: cancel its leaves, or the workflow.
var ErrNodeIsGroup = release.ErrNodeIsGroup
