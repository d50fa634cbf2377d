package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// NodeDetail is what the node panel shows.
type NodeDetail struct {
	Path string `json:"path"`
	// Kind is the job kind, null for a group.
	Kind         *string            `json:"kind"`
	State        flowtype.NodeState `json:"state"`
	Deps         []string           `json:"deps"`
	Children     int                `json:"children"`
	Args         json.RawMessage    `json:"args"`
	Output       json.RawMessage    `json:"output"`
	Error        *string            `json:"error"`
	Attempts     int32              `json:"attempts"`
	MaxAttempts  *int32             `json:"max_attempts"`
	Queue        *string            `json:"queue"`
	OnDepFailure string             `json:"on_dep_failure"`
	JobID        *int64             `json:"job_id"`
	StartedAt    *Time              `json:"started_at"`
	FinishedAt   *Time              `json:"finished_at"`
	// Jobs are the node's River jobs that River's cleaner has not deleted
	// yet, oldest first, with their attempts.
	Jobs []NodeJob `json:"jobs"`
	// Why is `enqueue why`'s answer for a node that is neither running nor
	// final ("throttled: concurrency key ..."); omitted otherwise.
	Why *string `json:"why,omitempty"`
}

// NodeJob is one River job of a node.
type NodeJob struct {
	ID          int64   `json:"id"`
	Run         int32   `json:"run"`
	State       string  `json:"state"`
	MaxAttempts int     `json:"max_attempts"`
	CreatedAt   Time    `json:"created_at"`
	FinalizedAt *Time   `json:"finalized_at"`
	Attempts    []Tried `json:"attempts"`
}

// Tried is one attempt of a job. Number counts across workflow retries
// (the node's attempt). A failed attempt has the time River recorded its
// error (At); the current or last attempt also has its start.
type Tried struct {
	Number    int     `json:"number"`
	StartedAt *Time   `json:"started_at,omitempty"`
	At        *Time   `json:"at,omitempty"`
	Outcome   string  `json:"outcome"` // failed, running, completed, cancelled, discarded
	Error     *string `json:"error,omitempty"`
}

// Node returns one node with its jobs and attempts. Returns
// flow.ErrInvalidID, flow.ErrNotFound, or ErrNodeNotFound.
func (s *Store) Node(ctx context.Context, wf, path string) (*NodeDetail, error) {
	if err := validateID(wf); err != nil {
		return nil, err
	}
	d := &NodeDetail{Path: path, Deps: []string{}, Jobs: []NodeJob{}}
	err := s.read(ctx, func(tx pgx.Tx) error {
		if _, err := headTx(ctx, tx, wf); err != nil {
			return err
		}
		var idx, run, base int32
		var deps []int32
		var args, output []byte
		var started, finished *time.Time
		err := tx.QueryRow(ctx, `
SELECT n.idx, n.run, n.attempt_base, n.kind, n.state, n.deps, n.args, n.output, n.error, n.attempts,
       n.max_attempts, n.queue, n.on_dep_failure, n.job_id, n.started_at, n.finished_at,
       (SELECT count(*) FROM qf_node c WHERE c.workflow_id = n.workflow_id AND c.parent_idx = n.idx)
FROM qf_node n WHERE n.workflow_id = $1 AND n.path = $2`, wf, path).Scan(&idx, &run, &base, &d.Kind, &d.State,
			&deps, &args, &output, &d.Error, &d.Attempts, &d.MaxAttempts, &d.Queue, &d.OnDepFailure, &d.JobID,
			&started, &finished, &d.Children)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %q", ErrNodeNotFound, path)
		}
		if err != nil {
			return err
		}
		d.Args, d.Output = rawJSON(args), rawJSON(output)
		d.StartedAt, d.FinishedAt = optTime(started), optTime(finished)
		if len(deps) > 0 {
			rows, err := tx.Query(ctx, `SELECT path FROM qf_node WHERE workflow_id = $1 AND idx = ANY($2) ORDER BY idx`, wf, deps)
			if err != nil {
				return err
			}
			paths, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			for _, p := range paths {
				d.Deps = append(d.Deps, lastSegment(p))
			}
		}
		if d.Kind == nil {
			if d.State == flowtype.NodeActive {
				d.State = flowtype.NodeRunning
			}
			return nil
		}
		if err := nodeJobsTx(ctx, tx, wf, idx, d); err != nil {
			return err
		}
		// An enqueued node reports its newest job of the current run.
		if d.State == flowtype.NodeEnqueued {
			d.State = flowtype.NodeAvailable
			for i := len(d.Jobs) - 1; i >= 0; i-- {
				if j := d.Jobs[i]; j.Run == run {
					d.State = reportedStateText(j.State)
					d.JobID = &j.ID
					if n := len(j.Attempts); n > 0 {
						d.Attempts = int32(j.Attempts[n-1].Number)
						d.StartedAt = j.Attempts[n-1].StartedAt
					}
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %q of workflow %s: %w", path, wf, err)
	}
	return d, nil
}

// nodeJobsTx reads the node's jobs (River's GIN index on metadata).
func nodeJobsTx(ctx context.Context, tx pgx.Tx, wf string, idx int32, d *NodeDetail) error {
	rows, err := tx.Query(ctx, `
SELECT id, state::text, attempt, max_attempts, created_at, attempted_at, finalized_at,
       coalesce(errors, '{}'), coalesce((metadata->>'qf_r')::int, 0), coalesce((metadata->>'qf_b')::int, 0)
FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_n', $2::int)
ORDER BY id`, wf, idx)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var j NodeJob
		var attempt, base int
		var created time.Time
		var attempted, finalized *time.Time
		var errs []json.RawMessage
		if err := rows.Scan(&j.ID, &j.State, &attempt, &j.MaxAttempts, &created, &attempted, &finalized,
			&errs, &j.Run, &base); err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
		j.CreatedAt, j.FinalizedAt = Time{created}, optTime(finalized)
		j.Attempts = attemptsOf(j.State, attempt, base, attempted, finalized, errs)
		d.Jobs = append(d.Jobs, j)
	}
	return rows.Err()
}

// attemptsOf lists a job's attempts: one per recorded error, and the
// current one when it is running or ended without an error of its own.
func attemptsOf(state string, attempt, base int, attempted, finalized *time.Time, errs []json.RawMessage) []Tried {
	out := []Tried{}
	byNumber := map[int]int{}
	for _, raw := range errs {
		var e struct {
			At      time.Time `json:"at"`
			Attempt int       `json:"attempt"`
			Error   string    `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		msg := e.Error
		byNumber[e.Attempt] = len(out)
		out = append(out, Tried{Number: base + e.Attempt, At: &Time{e.At}, Outcome: "failed", Error: &msg})
	}
	if attempt == 0 {
		return out
	}
	outcome := map[string]string{"running": "running", "completed": "completed", "cancelled": "cancelled",
		"discarded": "discarded", "retryable": "failed"}[state]
	if i, ok := byNumber[attempt]; ok {
		out[i].StartedAt = optTime(attempted)
		if outcome != "" && outcome != "failed" {
			out[i].Outcome = outcome
		}
		return out
	}
	if outcome == "" { // available or scheduled again: its last attempt is above
		return out
	}
	return append(out, Tried{Number: base + attempt, StartedAt: optTime(attempted), At: optTime(finalized), Outcome: outcome})
}

func reportedStateText(s string) flowtype.NodeState {
	return riverjob.NodeState(rivertypeJobState(s))
}
