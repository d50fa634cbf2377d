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
	return c.retryPlanTx(ctx, tx, id, func(g *retry.Graph) (retry.Plan, error) { return g.PlanRetry(mode), nil })
}

// retryPlanTx checks that the workflow may be retried, loads its graph and
// applies the plan that plan makes of it.
func (c *Client) retryPlanTx(ctx context.Context, tx pgx.Tx, id string, plan func(*retry.Graph) (retry.Plan, error)) (*RetryResult, error) {
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
	p, err := plan(g)
	if err != nil {
		return nil, err
	}
	nodes, jobs, err := retry.ApplyTx(ctx, tx, c.env.Inserter, id, p)
	if err != nil {
		return nil, err
	}
	return &RetryResult{Nodes: nodes, Jobs: jobs}, nil
}

// RetryNode reruns one leaf of a failed or cancelled workflow, in one
// transaction, with what its failure decided: the nodes downstream of it
// that did not complete (cancelled or skipped by policy) run again as it
// completes, and its groups are active again. Every other node keeps its
// state and result, and failed ones still count: a workflow with another
// failure ends failed again. The workflow becomes running. Refused, changing
// nothing: a pending or running workflow (*StateError matching
// ErrStillActive), a completed one (ErrNotRetryable), a node that is not a
// failed or cancelled leaf, or one whose dep failed (ErrNodeNotRetryable,
// saying why); ErrNotFound for an unknown workflow.
func (c *Client) RetryNode(ctx context.Context, id, path string) (*RetryResult, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	var res *RetryResult
	err := c.inTx(ctx, "retry node "+path+" of "+id, func(tx pgx.Tx) error {
		var err error
		res, err = c.retryPlanTx(ctx, tx, id, func(g *retry.Graph) (retry.Plan, error) { return g.PlanRetryNode(path) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("retry node %s of workflow %s: %w", path, id, err)
	}
	return res, nil
}

// ErrNodeNotRetryable is returned by RetryNode for a node it cannot rerun
// alone; the error says why.
var ErrNodeNotRetryable = retry.ErrNodeNotRetryable
