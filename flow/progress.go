package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
)

// Progress is a workflow's status with its nodes counted instead of listed:
// what a follower polls. One statement, one row, however large the
// workflow.
type Progress struct {
	ID         string
	Name       string
	Status     flowtype.WorkflowState
	CreatedAt  time.Time
	FinishedAt *time.Time
	// Nodes counts every node, groups and expansions included.
	Nodes int
	// Final counts nodes completed, failed, cancelled or skipped.
	Final int
	// Failed counts leaves that failed.
	Failed int
}

// Progress returns the workflow's status and node counts. It returns
// ErrInvalidID for an id that is not a UUID and ErrNotFound for an unknown
// one. Use Status for the nodes themselves.
func (c *Client) Progress(ctx context.Context, id string) (*Progress, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	p := &Progress{}
	err := c.pool.QueryRow(ctx, `
SELECT w.id::text, w.name, w.status, w.created_at, w.finished_at,
       count(n.idx),
       count(n.idx) FILTER (WHERE n.state IN ('completed', 'failed', 'cancelled', 'skipped')),
       count(n.idx) FILTER (WHERE n.state = 'failed' AND n.kind IS NOT NULL)
FROM qf_workflow w
LEFT JOIN qf_node n ON n.workflow_id = w.id
WHERE w.id = $1
GROUP BY w.id`, id).Scan(&p.ID, &p.Name, &p.Status, &p.CreatedAt, &p.FinishedAt, &p.Nodes, &p.Final, &p.Failed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("progress of %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("progress of %s: %w", id, err)
	}
	return p, nil
}
