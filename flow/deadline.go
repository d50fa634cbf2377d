package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/dag"
)

// DeadlineArgs are the args of the River job that enforces a workflow's
// deadline (kind "qf_deadline"): submit inserts one, scheduled for the
// deadline, on the queue of the workflow's first leaf, and RiverConfig
// registers its worker in every River client it configures.
type DeadlineArgs struct {
	WorkflowID string `json:"workflow_id"`
	Deadline   string `json:"deadline"`
}

// Kind implements river.JobArgs.
func (DeadlineArgs) Kind() string { return "qf_deadline" }

// deadlineWorker cancels a workflow that is still pending or running when
// its deadline job runs, with the reason recorded.
type deadlineWorker struct {
	river.WorkerDefaults[DeadlineArgs]
	client *Client
}

func (w *deadlineWorker) Work(ctx context.Context, job *river.Job[DeadlineArgs]) error {
	reason := fmt.Sprintf("deadline of %s passed", job.Args.Deadline)
	_, err := w.client.cancel(ctx, job.Args.WorkflowID, reason)
	if _, ok := errors.AsType[*StateError](err); ok || errors.Is(err, ErrNotFound) {
		return nil // finished in time, or gone
	}
	return err
}

// registerDeadlineWorker adds the deadline job's worker to workers once.
func (c *Client) registerDeadlineWorker(workers *river.Workers) {
	if workers == nil {
		return
	}
	// Already registered when RiverConfig is called again on the same
	// bundle (a worker that rejoins the fleet): that error is expected.
	_ = river.AddWorkerSafely(workers, &deadlineWorker{client: c})
}

// insertDeadlineTx schedules the deadline job of a submitted workflow.
func (c *Client) insertDeadlineTx(ctx context.Context, tx pgx.Tx, id string, plan *dag.Plan) error {
	queue := river.QueueDefault
	for i := range plan.Nodes {
		if !plan.Nodes[i].IsGroup() {
			queue = plan.Nodes[i].Queue
			break
		}
	}
	_, err := c.env.Inserter.InsertTx(ctx, tx, DeadlineArgs{WorkflowID: id, Deadline: plan.Deadline.String()}, &river.InsertOpts{
		Queue:       queue,
		ScheduledAt: time.Now().Add(plan.Deadline),
		MaxAttempts: 25,
	})
	if err != nil {
		return fmt.Errorf("schedule deadline: %w", err)
	}
	return nil
}
