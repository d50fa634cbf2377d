package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// WorkflowStatus is a workflow and every node's state, in the JSON shape of
// `enqueue status -o json` (docs/SPEC.md).
type WorkflowStatus struct {
	ID         string                 `json:"id"`
	Name       string                 `json:"name"`
	Key        *string                `json:"key,omitempty"`
	Status     flowtype.WorkflowState `json:"status"`
	CreatedAt  time.Time              `json:"created_at"`
	StartedAt  *time.Time             `json:"started_at"`
	FinishedAt *time.Time             `json:"finished_at"`
	Input      json.RawMessage        `json:"input"`
	Output     json.RawMessage        `json:"output"`
	// CancelReason says why a cancelled workflow was cancelled ("cancelled
	// on request", "deadline of 1h0m0s passed"); absent otherwise.
	CancelReason *string `json:"cancel_reason,omitempty"`
	// Paused is true while the workflow is paused (Pause); absent otherwise.
	Paused bool         `json:"paused,omitempty"`
	Nodes  []NodeStatus `json:"nodes"`
}

// NodeStatus is one node of WorkflowStatus.
type NodeStatus struct {
	// ID is the node's full path, such as "per-region/b".
	ID string `json:"id"`
	// Kind is the job kind; null for a group.
	Kind *string `json:"kind"`
	// State is waiting, available, running, retryable, completed, failed,
	// cancelled or skipped. Groups and expanded nodes whose members are
	// still going report running.
	State flowtype.NodeState `json:"state"`
	// Deps are the ids of the sibling nodes this node waits for.
	Deps       []string        `json:"deps"`
	JobID      *int64          `json:"job_id"`
	Attempts   int             `json:"attempts"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Output     json.RawMessage `json:"output"`
	Error      *string         `json:"error"`
	// Parent is the path of the enclosing group or expanded node, "" at the
	// top level.
	Parent string `json:"parent,omitempty"`
}

// Status returns the workflow with every node's state. It reads the node
// rows, which keep outputs, attempts and errors after River's cleaner has
// deleted the jobs, and the workflow's live jobs for the state of nodes in
// flight. Returns ErrNotFound for an unknown id.
func (c *Client) Status(ctx context.Context, id string) (*WorkflowStatus, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	tx, err := c.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", id, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only

	ws := &WorkflowStatus{}
	err = tx.QueryRow(ctx, `
SELECT id::text, name, key, status, created_at, started_at, finished_at, input, output,
       CASE WHEN status = 'cancelled' THEN cancel_reason END,
       EXISTS (SELECT 1 FROM qf_pause p WHERE p.scope = 'workflow' AND p.target = qf_workflow.id::text)
FROM qf_workflow WHERE id = $1`, id).Scan(&ws.ID, &ws.Name, &ws.Key, &ws.Status, &ws.CreatedAt,
		&ws.StartedAt, &ws.FinishedAt, &ws.Input, &ws.Output, &ws.CancelReason, &ws.Paused)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("status of %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", id, err)
	}

	rows, err := tx.Query(ctx, `
SELECT idx, parent_idx, path, kind, deps, state, run, attempt_base, job_id, attempts,
       started_at, finished_at, output, error
FROM qf_node WHERE workflow_id = $1 ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("status of %s: nodes: %w", id, err)
	}
	type nodeRow struct {
		NodeStatus
		idx, parent, run, base int32
		deps                   []int32
		stored                 flowtype.NodeState
	}
	var nodes []nodeRow
	byIdx := map[int32]int{}
	live := false
	for rows.Next() {
		var n nodeRow
		if err := rows.Scan(&n.idx, &n.parent, &n.ID, &n.Kind, &n.deps, &n.stored, &n.run, &n.base, &n.JobID,
			&n.Attempts, &n.StartedAt, &n.FinishedAt, &n.Output, &n.Error); err != nil {
			rows.Close()
			return nil, fmt.Errorf("status of %s: nodes: %w", id, err)
		}
		byIdx[n.idx] = len(nodes)
		live = live || n.stored == flowtype.NodeEnqueued
		nodes = append(nodes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("status of %s: nodes: %w", id, err)
	}

	var jobs map[riverjob.RunKey]riverjob.Job
	if live {
		if jobs, err = riverjob.NewestByRunTx(ctx, tx, id); err != nil {
			return nil, fmt.Errorf("status of %s: %w", id, err)
		}
	}

	ws.Nodes = make([]NodeStatus, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		n.Deps = make([]string, len(n.deps))
		for j, d := range n.deps {
			n.Deps[j] = lastSegment(nodes[byIdx[d]].ID)
		}
		if n.parent >= 0 {
			n.Parent = nodes[byIdx[n.parent]].ID
		}
		n.State = n.stored
		switch n.stored {
		case flowtype.NodeActive:
			n.State = flowtype.NodeRunning
		case flowtype.NodeEnqueued:
			n.State = flowtype.NodeAvailable
			if j, ok := jobs[riverjob.RunKey{Idx: n.idx, Run: n.run}]; ok {
				n.State = riverjob.NodeState(j.State)
				n.JobID = &j.ID
				n.Attempts = int(n.base) + j.Attempt
				n.StartedAt = j.AttemptedAt
				n.Error = riverjob.LastError(j.Errors)
			}
		}
		ws.Nodes[i] = n.NodeStatus
		// River marks a job running when it fetches it, a moment before the
		// middleware moves the workflow to running: report one picture.
		if ws.Status == flowtype.WorkflowPending && n.stored == flowtype.NodeEnqueued &&
			(n.State == flowtype.NodeRunning || n.State == flowtype.NodeRetryable) {
			ws.Status = flowtype.WorkflowRunning
		}
	}
	return ws, nil
}

func lastSegment(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// WorkflowSummary is one row of List.
type WorkflowSummary struct {
	ID         string                 `json:"id"`
	Name       string                 `json:"name"`
	Key        *string                `json:"key,omitempty"`
	Status     flowtype.WorkflowState `json:"status"`
	Nodes      int                    `json:"nodes"`
	CreatedAt  time.Time              `json:"created_at"`
	StartedAt  *time.Time             `json:"started_at"`
	FinishedAt *time.Time             `json:"finished_at"`
	// Paused is true while the workflow is paused (Pause); absent otherwise.
	Paused bool `json:"paused,omitempty"`
}

// ListParams filters List.
type ListParams struct {
	// Status keeps only workflows in this status; empty keeps all.
	Status flowtype.WorkflowState
	// Limit caps the number of rows, newest first. Defaults to 100.
	Limit int
}

// List returns workflows, newest first.
func (c *Client) List(ctx context.Context, params *ListParams) ([]WorkflowSummary, error) {
	if params == nil {
		params = &ListParams{}
	}
	limit := params.Limit
	if limit <= 0 {
		limit = 100
	}
	if params.Status != "" && !params.Status.Valid() {
		return nil, fmt.Errorf("list: unknown status %q (want pending, running, completed, failed or cancelled)", params.Status)
	}
	rows, err := c.pool.Query(ctx, `
SELECT id::text, name, key, status, node_count, created_at, started_at, finished_at,
       EXISTS (SELECT 1 FROM qf_pause p WHERE p.scope = 'workflow' AND p.target = qf_workflow.id::text)
FROM qf_workflow
WHERE $1 = '' OR status = $1
ORDER BY created_at DESC
LIMIT $2`, params.Status, limit)
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (WorkflowSummary, error) {
		var s WorkflowSummary
		err := row.Scan(&s.ID, &s.Name, &s.Key, &s.Status, &s.Nodes, &s.CreatedAt, &s.StartedAt, &s.FinishedAt, &s.Paused)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	return out, nil
}
