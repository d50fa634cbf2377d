package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RetryMode selects which nodes Retry runs again.
type RetryMode string

const (
	// RetryFailedOnly reruns failed nodes and lets the nodes that were
	// cancelled or skipped because of them run again as their deps
	// complete. Completed nodes keep their result.
	RetryFailedOnly RetryMode = "failed-only"
	// RetryFailedAndDownstream also reruns completed nodes downstream of a
	// failed or cancelled one.
	RetryFailedAndDownstream RetryMode = "failed-and-downstream"
	// RetryAll reruns every node.
	RetryAll RetryMode = "all"
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
// expands again. Returns ErrStillActive for a pending or running workflow
// and ErrNotRetryable for a completed one, changing nothing.
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
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM qf_workflow WHERE id = $1 FOR UPDATE`, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("retry workflow %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("retry workflow %s: %w", id, err)
	}
	switch status {
	case "pending", "running":
		return nil, fmt.Errorf("retry workflow %s: %w (it is %s)", id, ErrStillActive, status)
	case "completed":
		return nil, fmt.Errorf("retry workflow %s: %w", id, ErrNotRetryable)
	}

	g, err := loadGraph(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	plan := g.planRetry(mode)

	if len(plan.deleteSubtrees) > 0 {
		if _, err := tx.Exec(ctx, `
DELETE FROM qf_node q
USING unnest($2::text[]) AS p(prefix)
WHERE q.workflow_id = $1 AND q.path LIKE p.prefix`, id, plan.deleteSubtrees); err != nil {
			return nil, fmt.Errorf("retry workflow %s: remove expansions: %w", id, err)
		}
	}
	if _, err := tx.Exec(ctx, sqlResetNodes, id, plan.idx, plan.state, plan.remainingDeps, plan.remainingChildren, plan.rerun, plan.rollupSink); err != nil {
		return nil, fmt.Errorf("retry workflow %s: reset nodes: %w", id, err)
	}
	if _, err := tx.Exec(ctx, `
UPDATE qf_workflow SET status = 'running', remaining = $2, failed = 0,
       finished_at = NULL, output = NULL, error = NULL
WHERE id = $1`, id, plan.workflowRemaining); err != nil {
		return nil, fmt.Errorf("retry workflow %s: reset workflow: %w", id, err)
	}

	rows, err := tx.Query(ctx, `SELECT `+sqlLeafColumns+`
FROM qf_node q WHERE q.workflow_id = $1 AND q.idx = ANY ($2::int[])`, id, plan.enqueue)
	if err != nil {
		return nil, fmt.Errorf("retry workflow %s: read ready nodes: %w", id, err)
	}
	ready, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (leafRow, error) {
		var l leafRow
		err := row.Scan(l.dest()...)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("retry workflow %s: read ready nodes: %w", id, err)
	}
	if err := insertJobs(ctx, c.inserter, tx, ready); err != nil {
		return nil, fmt.Errorf("retry workflow %s: %w", id, err)
	}
	return &RetryResult{Nodes: len(plan.idx), Jobs: len(ready)}, nil
}

// sqlResetNodes gives reset nodes their new state and counters. A rerun leaf
// gets a new run generation (so its old job can never settle it) and its
// spent attempts as the base of its new ones.
const sqlResetNodes = `
UPDATE qf_node q SET
    state              = r.state,
    remaining_deps     = r.remaining_deps,
    failed_deps        = 0,
    remaining_children = r.remaining_children,
    failed_children    = 0,
    rollup_sink        = r.rollup_sink,
    run                = CASE WHEN r.rerun THEN q.run + 1 ELSE q.run END,
    attempt_base       = CASE WHEN r.rerun THEN q.attempts ELSE q.attempt_base END,
    output             = CASE WHEN r.rerun OR q.kind IS NULL THEN NULL ELSE q.output END,
    error              = NULL,
    job_id             = CASE WHEN r.rerun THEN NULL ELSE q.job_id END,
    started_at         = CASE WHEN r.rerun THEN NULL ELSE q.started_at END,
    finished_at        = NULL
FROM unnest($2::int[], $3::text[], $4::int[], $5::int[], $6::bool[], $7::bool[])
    AS r(idx, state, remaining_deps, remaining_children, rerun, rollup_sink)
WHERE q.workflow_id = $1 AND q.idx = r.idx`
