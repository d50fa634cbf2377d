package retry

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// Mode selects which nodes a retry runs again (flow.RetryMode).
type Mode string

// The modes; see flow.RetryMode.
const (
	FailedOnly          Mode = "failed-only"
	FailedAndDownstream Mode = "failed-and-downstream"
	All                 Mode = "all"
)

// ApplyTx writes plan for workflow id in tx: expansions that rerun are
// removed, reset nodes get their new state and counters, the workflow is
// running again, and the leaves that start at once get their River jobs
// through rc. It returns the number of nodes reset and of jobs inserted.
// Each error names its step; the caller adds the workflow.
func ApplyTx(ctx context.Context, tx pgx.Tx, rc *river.Client[pgx.Tx], id string, plan Plan) (nodes, jobs int, err error) {
	if len(plan.deleteSubtrees) > 0 {
		if _, err := tx.Exec(ctx, `
DELETE FROM qf_node q
USING unnest($2::text[]) AS p(prefix)
WHERE q.workflow_id = $1 AND q.path LIKE p.prefix`, id, plan.deleteSubtrees); err != nil {
			return 0, 0, fmt.Errorf("remove expansions: %w", err)
		}
	}
	states := make([]string, len(plan.state))
	for i, s := range plan.state {
		states[i] = string(s)
	}
	if _, err := tx.Exec(ctx, sqlResetNodes, id, plan.idx, states, plan.remainingDeps, plan.remainingChildren, plan.rerun, plan.rollupSink,
		plan.failedDeps, plan.failedChildren); err != nil {
		return 0, 0, fmt.Errorf("reset nodes: %w", err)
	}
	if _, err := tx.Exec(ctx, `
UPDATE qf_workflow SET status = 'running', remaining = $2, failed = $3,
       finished_at = NULL, output = NULL, error = NULL
WHERE id = $1`, id, plan.workflowRemaining, plan.workflowFailed); err != nil {
		return 0, 0, fmt.Errorf("reset workflow: %w", err)
	}

	rows, err := tx.Query(ctx, `SELECT `+riverjob.LeafColumns+`
FROM qf_node q WHERE q.workflow_id = $1 AND q.idx = ANY ($2::int[])`, id, plan.enqueue)
	if err != nil {
		return 0, 0, fmt.Errorf("read ready nodes: %w", err)
	}
	ready, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (riverjob.Leaf, error) {
		var l riverjob.Leaf
		err := row.Scan(l.Dest()...)
		return l, err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read ready nodes: %w", err)
	}
	started, err := release.StartTx(ctx, tx, rc, ready, nil)
	if err != nil {
		return 0, 0, err
	}
	return len(plan.idx), started, nil
}

// sqlResetNodes gives reset nodes their new state and counters. A rerun leaf
// gets a new run generation (so its old job can never settle it) and its
// spent attempts as the base of its new ones.
const sqlResetNodes = `
UPDATE qf_node q SET
    state              = r.state,
    remaining_deps     = r.remaining_deps,
    failed_deps        = r.failed_deps,
    remaining_children = r.remaining_children,
    failed_children    = r.failed_children,
    rollup_sink        = r.rollup_sink,
    run                = CASE WHEN r.rerun THEN q.run + 1 ELSE q.run END,
    attempt_base       = CASE WHEN r.rerun THEN q.attempts ELSE q.attempt_base END,
    output             = CASE WHEN r.rerun OR q.kind IS NULL THEN NULL ELSE q.output END,
    error              = NULL,
    job_id             = CASE WHEN r.rerun THEN NULL ELSE q.job_id END,
    started_at         = CASE WHEN r.rerun THEN NULL ELSE q.started_at END,
    finished_at        = NULL
FROM unnest($2::int[], $3::text[], $4::int[], $5::int[], $6::bool[], $7::bool[], $8::int[], $9::int[])
    AS r(idx, state, remaining_deps, remaining_children, rerun, rollup_sink, failed_deps, failed_children)
WHERE q.workflow_id = $1 AND q.idx = r.idx`
