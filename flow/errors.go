package flow

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Sentinel errors returned by the runtime. Callers branch on them with
// errors.Is; the returned errors wrap them with the workflow or node involved.
var (
	// ErrNotFound is returned when a workflow id names no workflow.
	ErrNotFound = errors.New("workflow not found")

	// ErrAlreadyFinished is returned by Cancel for a workflow that is already
	// completed, failed or cancelled. Nothing was changed.
	ErrAlreadyFinished = errors.New("workflow already finished")

	// ErrStillActive is returned by Retry for a workflow that is pending or
	// running. Nothing was changed.
	ErrStillActive = errors.New("workflow is still active")

	// ErrNotRetryable is returned by Retry for a workflow that completed:
	// there is nothing to rerun.
	ErrNotRetryable = errors.New("workflow completed; nothing to retry")

	// ErrKeyConflict is returned by Submit when the idempotency key is held by
	// a workflow submitted with a different spec. The error names that
	// workflow.
	ErrKeyConflict = errors.New("idempotency key already used by a different spec")

	// ErrOutputTooLarge is returned when a node's output exceeds
	// dag.MaxOutputBytes.
	ErrOutputTooLarge = errors.New("node output too large")

	// ErrNotInNode is returned by the node context helpers (Input,
	// DepOutputs, SetOutput, Expand) when called outside a job that belongs
	// to a workflow.
	ErrNotInNode = errors.New("not running inside a workflow node")

	// ErrTimeout is the cause of a node's context when its timeout expires;
	// the attempt fails with an error that wraps it and says it timed out.
	ErrTimeout = errors.New("node timed out")

	// ErrInvalidRetryMode is returned by Retry for a mode it does not know.
	ErrInvalidRetryMode = errors.New("invalid retry mode")
)

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

// ErrInvalidID is returned for a workflow id that is not a UUID.
var ErrInvalidID = errors.New("invalid workflow id")

func validateID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return fmt.Errorf("%w %q: want a UUID such as 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f", ErrInvalidID, id)
	}
	return nil
}
