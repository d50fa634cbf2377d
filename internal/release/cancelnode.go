package release

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// Errors of CancelNodeTx; flow re-exports them.
var (
	// ErrNodeNotFound is a path that names no node of the workflow.
	ErrNodeNotFound = errors.New("node not found")
	// ErrNodeFinished is a node that is already final.
	ErrNodeFinished = errors.New("node already finished")
	// ErrNodeIsGroup is a group or expanded node: cancel its leaves.
	ErrNodeIsGroup = errors.New("node is a group (cancel its leaves, or the workflow)")
)

// CancelNodeTx cancels one leaf of a workflow in tx, wherever it is in its
// life: waiting for deps, throttled, paused, queued or running (its River
// job is cancelled; a running job is asked to stop through its context, and
// its completion, if it comes, changes nothing). The node becomes
// cancelled, a failure for its dependents (which follow their
// on_dep_failure) and its group, exactly as if its job had ended so; a slot
// it held goes to the next waiter. It returns the number of River jobs
// cancelled and what settling did.
func CancelNodeTx(ctx context.Context, tx pgx.Tx, rc *river.Client[pgx.Tx], wf, path string) (int, observe.Stats, error) {
	var (
		idx, run int32
		state    flowtype.NodeState
		isLeaf   bool
	)
	err := tx.QueryRow(ctx, `
SELECT idx, run, state, kind IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM qf_node m WHERE m.workflow_id = q.workflow_id AND m.parent_idx = q.idx)
FROM qf_node q WHERE workflow_id = $1 AND path = $2
FOR UPDATE`, wf, path).Scan(&idx, &run, &state, &isLeaf)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, observe.Stats{}, fmt.Errorf("%w: %q", ErrNodeNotFound, path)
	case err != nil:
		return 0, observe.Stats{}, fmt.Errorf("lock node %s: %w", path, err)
	case !isLeaf:
		return 0, observe.Stats{}, fmt.Errorf("%s: %w", path, ErrNodeIsGroup)
	case state.IsFinal():
		return 0, observe.Stats{}, fmt.Errorf("%s is %s: %w", path, state, ErrNodeFinished)
	}
	o := Outcome{Node: Ref{WF: wf, Idx: idx}, Run: run, State: flowtype.NodeCancelled, Err: "cancelled on request",
		NoSlot: state == flowtype.NodeWaiting || state == flowtype.NodeThrottled}
	if state == flowtype.NodeThrottled {
		if _, err := tx.Exec(ctx, `DELETE FROM qf_throttled WHERE workflow_id = $1 AND idx = $2`, wf, idx); err != nil {
			return 0, observe.Stats{}, fmt.Errorf("leave concurrency queue: %w", err)
		}
	}
	if state != flowtype.NodeEnqueued {
		// FinishTx settles nodes that are enqueued for the run.
		if _, err := tx.Exec(ctx, `UPDATE qf_node SET state = 'enqueued' WHERE workflow_id = $1 AND idx = $2`, wf, idx); err != nil {
			return 0, observe.Stats{}, fmt.Errorf("cancel node %s: %w", path, err)
		}
	}
	jobs, err := riverjob.NodeJobsTx(ctx, tx, wf, idx, run)
	if err != nil {
		return 0, observe.Stats{}, err
	}
	for _, j := range jobs {
		o.Attempt, o.JobID = int32(j.Attempt), j.ID
		if j.AttemptedAt != nil {
			t := *j.AttemptedAt
			o.StartedAt = &t
		}
		if _, err := rc.JobCancelTx(ctx, tx, j.ID); err != nil {
			return 0, observe.Stats{}, fmt.Errorf("cancel job %d: %w", j.ID, err)
		}
	}
	_, stats, err := FinishTx(ctx, tx, rc, []Outcome{o})
	if err != nil {
		return 0, observe.Stats{}, err
	}
	return len(jobs), stats, nil
}
