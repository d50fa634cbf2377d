package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// ErrNodeNotFound is returned for a node path the workflow does not have.
var ErrNodeNotFound = errors.New("node not found")

// Store runs the console's read queries: the ones flow's public API has no
// equivalent for (a keyset-paged, filtered list; one level of a workflow
// with its groups' counts by state; changes since a cursor; one node with
// its jobs; the timeline). Every read of one answer runs in one read-only
// REPEATABLE READ transaction, so the answer is one consistent picture.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store reading through pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// read runs fn in a read-only snapshot.
func (s *Store) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	return fn(tx)
}

func validateID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return fmt.Errorf("%w %q", flow.ErrInvalidID, id)
	}
	return nil
}

// WorkflowHead is a workflow's row, without its nodes.
type WorkflowHead struct {
	ID         string                 `json:"id"`
	Name       string                 `json:"name"`
	Key        *string                `json:"key,omitempty"`
	Status     flowtype.WorkflowState `json:"status"`
	Nodes      int                    `json:"nodes"`
	CreatedAt  Time                   `json:"created_at"`
	StartedAt  *Time                  `json:"started_at"`
	FinishedAt *Time                  `json:"finished_at"`
	Error      *string                `json:"error"`
}

// headTx reads the workflow's row; flow.ErrNotFound when there is none.
func headTx(ctx context.Context, tx pgx.Tx, id string) (*WorkflowHead, error) {
	h := &WorkflowHead{}
	var created time.Time
	var started, finished *time.Time
	err := tx.QueryRow(ctx, `
SELECT id::text, name, key, status, node_count, created_at, started_at, finished_at, error
FROM qf_workflow WHERE id = $1`, id).Scan(&h.ID, &h.Name, &h.Key, &h.Status, &h.Nodes,
		&created, &started, &finished, &h.Error)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, flow.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("workflow: %w", err)
	}
	h.CreatedAt, h.StartedAt, h.FinishedAt = Time{created}, optTime(started), optTime(finished)
	return h, nil
}

// nodeRow is the part of a node row the graph and the timeline need.
type nodeRow struct {
	Idx, Parent, Run    int32
	Path                string
	Kind                *string
	Stored              flowtype.NodeState
	Deps                []int32
	JobID               *int64
	Attempts, Base      int32
	StartedAt, Finished *time.Time
	State               flowtype.NodeState // reported
	Error               *string
	jobTouched          time.Time // latest time its live job changed
}

// subtreeBounds returns the path range [lo, hi) of a group's descendants:
// paths are "C"-collated, so "g/" <= p < "g0" ('0' follows '/') is exactly
// the paths under g, and the btree on (workflow_id, path) serves it.
func subtreeBounds(group string) (string, string) {
	return group + "/", group + "0"
}

// nodesTx reads the nodes under group ("" for the whole workflow) with
// their reported states: stored states, and for leaves with a job the
// job's state, as flow.Client.Status reports them.
func nodesTx(ctx context.Context, tx pgx.Tx, wf, group string) ([]nodeRow, error) {
	const cols = `idx, parent_idx, run, path, kind, state, deps, job_id, attempts, attempt_base, started_at, finished_at, error`
	var rows pgx.Rows
	var err error
	if group == "" {
		rows, err = tx.Query(ctx, `SELECT `+cols+` FROM qf_node WHERE workflow_id = $1 ORDER BY idx`, wf)
	} else {
		lo, hi := subtreeBounds(group)
		rows, err = tx.Query(ctx, `SELECT `+cols+` FROM qf_node
WHERE workflow_id = $1 AND path >= $2 AND path < $3 ORDER BY idx`, wf, lo, hi)
	}
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (nodeRow, error) {
		var n nodeRow
		err := r.Scan(&n.Idx, &n.Parent, &n.Run, &n.Path, &n.Kind, &n.Stored, &n.Deps, &n.JobID,
			&n.Attempts, &n.Base, &n.StartedAt, &n.Finished, &n.Error)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	live := false
	for i := range out {
		out[i].State = out[i].Stored
		switch out[i].Stored {
		case flowtype.NodeActive:
			out[i].State = flowtype.NodeRunning
		case flowtype.NodeEnqueued:
			out[i].State = flowtype.NodeAvailable
			live = true
		}
	}
	if !live {
		return out, nil
	}
	jobs, err := jobsTx(ctx, tx, wf)
	if err != nil {
		return nil, err
	}
	for i := range out {
		n := &out[i]
		if n.Stored != flowtype.NodeEnqueued {
			continue
		}
		if j, ok := jobs[runKey{n.Idx, n.Run}]; ok {
			n.State = riverjob.NodeState(j.State)
			n.JobID = &j.ID
			n.Attempts = n.Base + int32(j.Attempt)
			n.StartedAt = j.AttemptedAt
			n.jobTouched = j.Touched
		}
	}
	return out, nil
}

type runKey struct{ Idx, Run int32 }

type jobRow struct {
	ID          int64
	State       rivertype.JobState
	Attempt     int
	AttemptedAt *time.Time
	Touched     time.Time
}

// jobsTx returns the newest job of each node run of the workflow, found
// through River's GIN index on metadata.
func jobsTx(ctx context.Context, tx pgx.Tx, wf string) (map[runKey]jobRow, error) {
	rows, err := tx.Query(ctx, `
SELECT id, state::text, attempt, attempted_at,
       greatest(created_at, attempted_at, finalized_at, scheduled_at),
       (metadata->>'qf_n')::int, (metadata->>'qf_r')::int
FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text)
ORDER BY id`, wf)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	defer rows.Close()
	out := map[runKey]jobRow{}
	for rows.Next() {
		var j jobRow
		var k runKey
		if err := rows.Scan(&j.ID, &j.State, &j.Attempt, &j.AttemptedAt, &j.Touched, &k.Idx, &k.Run); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		out[k] = j
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return out, nil
}

// liveStatus is the workflow's status as Status reports it: River marks a
// job running a moment before the middleware moves the workflow to
// running, and one picture shows both.
func liveStatus(h *WorkflowHead, nodes []nodeRow) {
	if h.Status != flowtype.WorkflowPending {
		return
	}
	for _, n := range nodes {
		if n.Stored == flowtype.NodeEnqueued && (n.State == flowtype.NodeRunning || n.State == flowtype.NodeRetryable) {
			h.Status = flowtype.WorkflowRunning
			return
		}
	}
}

func lastSegment(path string) string { return path[strings.LastIndexByte(path, '/')+1:] }

// Time marshals as RFC 3339 in UTC with exactly six fractional digits,
// like every time in the project's JSON (docs/SPEC.md, "JSON shapes").
type Time = jsonTime

type jsonTime struct{ time.Time }

const jsonTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// MarshalJSON writes t in jsonTimeFormat.
func (t jsonTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(jsonTimeFormat)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, jsonTimeFormat)
	return append(b, '"'), nil
}

func optTime(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	return &Time{*t}
}

// rawJSON keeps null as null.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

func rivertypeJobState(s string) rivertype.JobState { return rivertype.JobState(s) }
