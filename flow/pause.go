package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// PauseTarget names what Pause and Resume act on: exactly one of a
// workflow, a River queue or a job kind.
type PauseTarget struct {
	Workflow string
	Queue    string
	Kind     string
}

func (p PauseTarget) String() string {
	switch {
	case p.Workflow != "":
		return "workflow " + p.Workflow
	case p.Queue != "":
		return "queue " + p.Queue
	}
	return "kind " + p.Kind
}

// ErrPauseTarget is returned by Pause and Resume unless exactly one field
// of the PauseTarget is set.
var ErrPauseTarget = errors.New("pause: name exactly one of a workflow, a queue or a kind")

// PauseResult tells what Pause or Resume did.
type PauseResult struct {
	// Changed is false when the target was already paused (Pause) or not
	// paused (Resume).
	Changed bool
	// Jobs counts the River jobs held (Pause) or released or inserted
	// (Resume); 0 for a queue, which River pauses as a whole.
	Jobs int
}

// Pause stops new work of a workflow, a queue or a kind from starting,
// fleet-wide; running nodes finish. For a workflow or a kind, in one
// transaction: the pause is recorded, the River jobs not yet running are
// held (scheduled far in the future, their schedule kept), and nodes that
// become ready later get no job (state paused) until Resume. A queue is
// paused with River's own QueuePause, which every River client of the
// fleet obeys (through its LISTEN connection, or its next poll of the
// queue settings in poll-only mode); the queue must exist (a worker served
// it once). Pausing what is paused changes nothing. A workflow id that is
// not a UUID returns ErrInvalidID, an unknown one ErrNotFound.
func (c *Client) Pause(ctx context.Context, target PauseTarget) (*PauseResult, error) {
	return c.pauseOrResume(ctx, target, true)
}

// Resume undoes Pause: held jobs go back to their schedule, paused nodes
// get their jobs (within their concurrency limits), and a queue is resumed
// with River's QueueResume. Work also covered by another pause (its
// workflow and its kind) stays paused until that one is lifted too.
func (c *Client) Resume(ctx context.Context, target PauseTarget) (*PauseResult, error) {
	return c.pauseOrResume(ctx, target, false)
}

func (c *Client) pauseOrResume(ctx context.Context, target PauseTarget, pause bool) (*PauseResult, error) {
	set := 0
	for _, s := range []string{target.Workflow, target.Queue, target.Kind} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return nil, ErrPauseTarget
	}
	verb := "resume"
	if pause {
		verb = "pause"
	}
	if target.Workflow != "" {
		if err := validateID(target.Workflow); err != nil {
			return nil, err
		}
	}
	res := &PauseResult{}
	err := c.inTx(ctx, verb+" "+target.String(), func(tx pgx.Tx) error {
		if target.Queue != "" {
			return c.pauseQueueTx(ctx, tx, target.Queue, pause, res)
		}
		scope, name := release.ScopeKind, target.Kind
		if target.Workflow != "" {
			scope, name = release.ScopeWorkflow, target.Workflow
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM qf_workflow WHERE id = $1)`, name).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return ErrNotFound
			}
		}
		var err error
		if pause {
			res.Jobs, res.Changed, err = release.PauseTx(ctx, tx, scope, name)
		} else {
			res.Jobs, res.Changed, err = release.ResumeTx(ctx, tx, c.env.Inserter, scope, name)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", verb, target, err)
	}
	return res, nil
}

// pauseQueueTx pauses or resumes a River queue in tx.
func (c *Client) pauseQueueTx(ctx context.Context, tx pgx.Tx, queue string, pause bool, res *PauseResult) error {
	q, err := c.env.Inserter.QueueGetTx(ctx, tx, queue)
	if errors.Is(err, rivertype.ErrNotFound) {
		return fmt.Errorf("no worker has served queue %q: %w", queue, ErrNotFound)
	}
	if err != nil {
		return err
	}
	res.Changed = (q.PausedAt == nil) == pause
	if !res.Changed {
		return nil
	}
	if pause {
		return c.env.Inserter.QueuePauseTx(ctx, tx, queue, nil)
	}
	return c.env.Inserter.QueueResumeTx(ctx, tx, queue, nil)
}

// PausedQueues returns the River queues that are paused.
func (c *Client) PausedQueues(ctx context.Context) ([]string, error) {
	return riverjob.PausedQueuesTx(ctx, c.pool)
}
