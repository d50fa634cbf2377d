package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// CancelResult tells what Cancel did.
type CancelResult struct {
	// Nodes is the number of nodes that were waiting, queued or running and
	// are now cancelled.
	Nodes int
	// Jobs is the number of River jobs cancelled (queued jobs at once,
	// running jobs asked to stop through their context).
	Jobs int
}

// Cancel cancels a pending or running workflow in one transaction: waiting
// nodes will never start, queued jobs are cancelled, running jobs are asked
// to stop (River cancels their context), and the workflow becomes cancelled.
// A job that finishes anyway changes nothing. Returns ErrInvalidID for an id
// that is not a UUID, ErrNotFound for an unknown id and, changing nothing, a
// *StateError matching ErrAlreadyFinished for a finished workflow.
func (c *Client) Cancel(ctx context.Context, id string) (*CancelResult, error) {
	var res *CancelResult
	var took time.Duration
	err := c.inTx(ctx, "cancel workflow "+id, func(tx pgx.Tx) error {
		var err error
		res, took, err = c.cancelTxTimed(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.report(observe.Stats{
		Finished: map[flowtype.WorkflowState]int{flowtype.WorkflowCancelled: 1},
		Timings:  []observe.Timing{{Status: flowtype.WorkflowCancelled, Took: took}},
	})
	return res, nil
}

// CancelTx is Cancel in the caller's transaction.
func (c *Client) CancelTx(ctx context.Context, tx pgx.Tx, id string) (*CancelResult, error) {
	res, _, err := c.cancelTxTimed(ctx, tx, id)
	return res, err
}

// cancelTxTimed is CancelTx, also returning how long the workflow took
// (for the Observer).
func (c *Client) cancelTxTimed(ctx context.Context, tx pgx.Tx, id string) (*CancelResult, time.Duration, error) {
	if err := validateID(id); err != nil {
		return nil, 0, err
	}
	res, took, err := c.cancelTx(ctx, tx, id, "cancelled on request")
	if err != nil {
		return nil, 0, fmt.Errorf("cancel workflow %s: %w", id, err)
	}
	return res, took, nil
}

// cancel is Cancel with the reason recorded on the workflow.
func (c *Client) cancel(ctx context.Context, id, reason string) (*CancelResult, error) {
	var res *CancelResult
	var took time.Duration
	err := c.inTx(ctx, "cancel workflow "+id, func(tx pgx.Tx) error {
		var err error
		res, took, err = c.cancelTx(ctx, tx, id, reason)
		if err != nil {
			return fmt.Errorf("cancel workflow %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.report(observe.Stats{
		Finished: map[flowtype.WorkflowState]int{flowtype.WorkflowCancelled: 1},
		Timings:  []observe.Timing{{Status: flowtype.WorkflowCancelled, Took: took}},
	})
	return res, nil
}

func (c *Client) cancelTx(ctx context.Context, tx pgx.Tx, id, reason string) (*CancelResult, time.Duration, error) {
	var took float64
	err := tx.QueryRow(ctx, `
UPDATE qf_workflow w SET status = 'cancelled', finished_at = now(), started_at = coalesce(started_at, now()),
       cancel_reason = $2
WHERE id = $1 AND status IN ('pending', 'running')
RETURNING `+release.SQLWorkflowSeconds, id, reason).Scan(&took)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, err
	}
	if err != nil {
		var status flowtype.WorkflowState
		err := tx.QueryRow(ctx, `SELECT status FROM qf_workflow WHERE id = $1`, id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, 0, ErrNotFound
		}
		if err != nil {
			return nil, 0, err
		}
		return nil, 0, &StateError{WorkflowID: id, State: status, Reason: ErrAlreadyFinished}
	}

	rows, err := tx.Query(ctx, `
WITH locked AS (
    SELECT idx, state FROM qf_node
    WHERE workflow_id = $1 AND state IN ('waiting', 'throttled', 'paused', 'enqueued', 'active')
    ORDER BY idx
    FOR UPDATE
)
UPDATE qf_node q SET state = 'cancelled', finished_at = now()
FROM locked l
WHERE q.workflow_id = $1 AND q.idx = l.idx AND q.state IN ('waiting', 'throttled', 'paused', 'enqueued', 'active')
RETURNING CASE WHEN l.state IN ('enqueued', 'paused') THEN q.conc_key END`, id)
	if err != nil {
		return nil, 0, fmt.Errorf("nodes: %w", err)
	}
	res := &CancelResult{}
	freed := release.Slots{}
	var key *string
	if _, err := pgx.ForEachRow(rows, []any{&key}, func() error {
		res.Nodes++
		if key != nil {
			freed[*key]++
		}
		return nil
	}); err != nil {
		return nil, 0, fmt.Errorf("nodes: %w", err)
	}
	// The slots of the nodes that held one go to other workflows' waiters.
	if _, err := tx.Exec(ctx, `DELETE FROM qf_throttled WHERE workflow_id = $1`, id); err != nil {
		return nil, 0, fmt.Errorf("concurrency queue: %w", err)
	}
	if _, err := release.StartTx(ctx, tx, c.env.Inserter, nil, freed); err != nil {
		return nil, 0, err
	}

	jobIDs, err := riverjob.LiveIDsTx(ctx, tx, id)
	if err != nil {
		return nil, 0, err
	}
	for _, jobID := range jobIDs {
		if _, err := c.env.Inserter.JobCancelTx(ctx, tx, jobID); err != nil {
			return nil, 0, fmt.Errorf("job %d: %w", jobID, err)
		}
		res.Jobs++
	}
	return res, release.SecondsDuration(took), nil
}

// CancelNode cancels one leaf of a pending or running workflow, in one
// transaction, wherever it is: waiting, throttled, paused, queued or
// running (its job is cancelled; River asks a running job to stop). The
// node becomes cancelled, which its dependents see as a failure and follow
// their on_dep_failure policy on, and its group and workflow roll up as
// usual; a concurrency slot it held goes to the next waiter. Returns
// ErrNotFound for an unknown workflow or path, ErrNodeFinished for a node
// that is already final, ErrNodeIsGroup for a group or expanded node.
func (c *Client) CancelNode(ctx context.Context, id, path string) (*CancelResult, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	var res *CancelResult
	var stats observe.Stats
	err := c.inTx(ctx, "cancel node "+path+" of "+id, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM qf_workflow WHERE id = $1)`, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return ErrNotFound
		}
		jobs, st, err := release.CancelNodeTx(ctx, tx, c.env.Inserter, id, path)
		if errors.Is(err, release.ErrNodeNotFound) {
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		if err != nil {
			return err
		}
		res, stats = &CancelResult{Nodes: 1, Jobs: jobs}, st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cancel node %s of workflow %s: %w", path, id, err)
	}
	c.report(stats)
	return res, nil
}
