package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// ReconcileLookbackDefault is how far back the reconciler looks for
// finalized jobs whose node was never settled.
const ReconcileLookbackDefault = 6 * time.Hour

// ReconcileResult tells what Reconcile repaired.
type ReconcileResult struct {
	// Settled is the number of nodes settled from their finished jobs.
	Settled int
}

// Reconcile repairs what the completion transaction cannot cover: a River
// job that reached a final state without its node being settled. That
// happens when River itself finalizes a job outside the middleware (the
// rescuer discards a job whose worker died on its last attempt, a job is
// cancelled through River's API, a worker panics, a worker completed the job
// with river.JobCompleteTx but not flow.CompleteNodeTx). Such a node is
// settled from its job: completed (with the job's recorded output), failed
// or cancelled, and its dependents released as usual. Jobs finalized within
// Config.ReconcileGrace are left alone: their worker may be committing.
//
// Reconcile is idempotent and safe to run concurrently with workers and with
// itself; RiverConfig runs it periodically on the fleet.
func (c *Client) Reconcile(ctx context.Context) (*ReconcileResult, error) {
	rows, err := c.pool.Query(ctx, `
SELECT j.id, j.state::text, j.attempt, j.attempted_at, j.metadata, coalesce(j.errors, '{}')
FROM river_job j
JOIN qf_node n
  ON n.workflow_id = (j.metadata->>'qf_wf')::uuid
 AND n.idx = (j.metadata->>'qf_n')::int
 AND n.run = (j.metadata->>'qf_r')::int
WHERE j.state IN ('completed', 'discarded', 'cancelled')
  AND j.finalized_at < now() - $1::interval
  AND j.finalized_at > now() - $2::interval
  AND j.metadata ? 'qf_wf'
  AND n.state = 'enqueued'
ORDER BY j.id
LIMIT 1000`, c.config.ReconcileGrace, ReconcileLookbackDefault)
	if err != nil {
		return nil, fmt.Errorf("reconcile: find unsettled jobs: %w", err)
	}
	var outcomes []nodeOutcome
	for rows.Next() {
		job := &rivertype.JobRow{}
		var state string
		var errs []json.RawMessage
		if err := rows.Scan(&job.ID, &state, &job.Attempt, &job.AttemptedAt, &job.Metadata, &errs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reconcile: find unsettled jobs: %w", err)
		}
		meta, ok := parseJobMeta(job.Metadata)
		if !ok {
			continue
		}
		o := nodeOutcome{run: &nodeRun{client: c, job: job, meta: meta}}
		switch state {
		case "completed":
			o.state = "completed"
			o.output = job.Output()
		case "discarded":
			o.state = "failed"
			o.err = "job discarded by River"
		default:
			o.state = "cancelled"
			o.err = "job cancelled through River"
		}
		if e := (liveJob{errors: errs}).lastError(); e != nil {
			o.err = *e
		}
		outcomes = append(outcomes, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: find unsettled jobs: %w", err)
	}
	if len(outcomes) == 0 {
		return &ReconcileResult{}, nil
	}
	var (
		settled int
		stats   settleStats
	)
	if err := c.inTx(ctx, "reconcile", func(tx pgx.Tx) error {
		var err error
		settled, stats, err = c.finishNodeTx(ctx, tx, outcomes)
		return err
	}); err != nil {
		return nil, err
	}
	c.report(stats)
	if settled > 0 {
		c.config.Logger.InfoContext(ctx, "flow: reconciler settled nodes from finished jobs", slog.Int("nodes", settled))
	}
	return &ReconcileResult{Settled: settled}, nil
}

// ReconcileArgs is the periodic job that runs Reconcile.
type ReconcileArgs struct{}

// Kind is "qf_reconcile".
func (ReconcileArgs) Kind() string { return "qf_reconcile" }

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	client *Client
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	_, err := w.client.Reconcile(ctx)
	return err
}

// RiverConfig returns a copy of cfg completed for a QuantumFlow worker:
//
//   - the node middleware (Middleware) is added to WorkerMiddleware;
//   - the reconciler is registered as a periodic job, which River's elected
//     leader enqueues every Config.ReconcileInterval;
//   - unset fetch settings are tuned so a released child starts within
//     milliseconds: FetchCooldown 2ms and FetchPollInterval 100ms, against
//     River's 100ms and 1s defaults;
//
// JobTimeout is left as it is, because River's rescuer never rescues a job
// whose timeout is negative (none). A node's `timeout` is enforced by the
// middleware; River's own timeout for the job is the worker's Timeout(job),
// else JobTimeout. Workers whose nodes may run longer than JobTimeout should
// return JobTimeout(job) from Timeout (the built-in kinds do).
//
// cfg.Workers must hold the workers of the kinds this process runs; it is
// created when nil.
func (c *Client) RiverConfig(cfg *river.Config) *river.Config {
	out := *cfg
	if out.Workers == nil {
		out.Workers = river.NewWorkers()
	}
	river.AddWorker(out.Workers, &reconcileWorker{client: c})
	out.WorkerMiddleware = append(append([]rivertype.WorkerMiddleware(nil), cfg.WorkerMiddleware...), c.Middleware())
	out.PeriodicJobs = append(append([]*river.PeriodicJob(nil), cfg.PeriodicJobs...), river.NewPeriodicJob(
		river.PeriodicInterval(c.config.ReconcileInterval),
		func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
		&river.PeriodicJobOpts{ID: "qf_reconcile", RunOnStart: true},
	))
	if out.FetchCooldown == 0 {
		out.FetchCooldown = 2 * time.Millisecond
	}
	if out.FetchPollInterval == 0 {
		out.FetchPollInterval = 100 * time.Millisecond
	}
	return &out
}

// JobTimeout returns the timeout of the node a job belongs to, or 0 when the
// job is not part of a workflow or its node sets none (River then applies
// the client's JobTimeout). Return it from a worker's Timeout method so that
// River's own deadline and its rescuer follow the node's timeout:
//
//	func (w *MyWorker) Timeout(job *river.Job[MyArgs]) time.Duration {
//		return flow.JobTimeout(job.JobRow)
//	}
func JobTimeout(job *rivertype.JobRow) time.Duration {
	meta, ok := parseJobMeta(job.Metadata)
	if !ok {
		return 0
	}
	return time.Duration(meta.TimeoutMS) * time.Millisecond
}
