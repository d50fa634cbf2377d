package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/retry"
)

// RetryMode selects which nodes Retry runs again.
type RetryMode string

const (
	// RetryFailedOnly reruns failed nodes and lets the nodes that were
	// cancelled or skipped because of them run again as their deps
	// complete. Completed nodes keep their result.
	RetryFailedOnly RetryMode = RetryMode(retry.FailedOnly)
	// RetryFailedAndDownstream also reruns completed nodes downstream of a
	// failed or cancelled one.
	RetryFailedAndDownstream RetryMode = RetryMode(retry.FailedAndDownstream)
	// RetryAll reruns every node.
	RetryAll RetryMode = RetryMode(retry.All)
)

// RetryResult tells what Retry did.
type RetryResult struct {
	// Nodes is the number of nodes reset (leaves, groups and expanded
	// nodes).
	Nodes int
	// Jobs is the number of jobs enqueued at once.
	Jobs int
}

// Retry reruns a failed or cancelled workflow in one transaction. Nodes to
// rerun are reset and get a new job when their deps are done; their attempt
// counts carry on (flow.NodeFromContext reports base + this job's attempt).
// The sub-DAG of an expanded node that reruns is removed: the node's job
// expands again. Returns ErrInvalidRetryMode for an unknown mode,
// ErrInvalidID, ErrNotFound, and, changing nothing, a *StateError matching
// ErrStillActive for a pending or running workflow or ErrNotRetryable for a
// completed one.
func (c *Client) Retry(ctx context.Context, id string, mode RetryMode) (*RetryResult, error) {
	var res *RetryResult
	err := c.inTx(ctx, "retry workflow "+id, func(tx pgx.Tx) error {
		var err error
		res, err = c.RetryTx(ctx, tx, id, mode)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// RetryTx is Retry in the caller's transaction.
func (c *Client) RetryTx(ctx context.Context, tx pgx.Tx, id string, mode RetryMode) (*RetryResult, error) {
	switch mode {
	case RetryFailedOnly, RetryFailedAndDownstream, RetryAll:
	case "":
		mode = RetryFailedOnly
	default:
		return nil, fmt.Errorf("%w %q (want failed-only, failed-and-downstream or all)", ErrInvalidRetryMode, mode)
	}
	if err := validateID(id); err != nil {
		return nil, err
	}
	res, err := c.retryTx(ctx, tx, id, retry.Mode(mode))
	if err != nil {
		return nil, fmt.Errorf("retry workflow %s: %w", id, err)
	}
	return res, nil
}

func (c *Client) retryTx(ctx context.Context, tx pgx.Tx, id string, mode retry.Mode) (*RetryResult, error) {
	var status flowtype.WorkflowState
	err := tx.QueryRow(ctx, `SELECT status FROM qf_workflow WHERE id = $1 FOR UPDATE`, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	switch status {
	case flowtype.WorkflowPending, flowtype.WorkflowRunning:
		return nil, &StateError{WorkflowID: id, State: status, Reason: ErrStillActive}
	case flowtype.WorkflowCompleted:
		return nil, &StateError{WorkflowID: id, State: status, Reason: ErrNotRetryable}
	}
	g, err := retry.LoadGraphTx(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	nodes, jobs, err := retry.ApplyTx(ctx, tx, c.env.Inserter, id, g.PlanRetry(mode))
	if err != nil {
		return nil, err
	}
	return &RetryResult{Nodes: nodes, Jobs: jobs}, nil
}
