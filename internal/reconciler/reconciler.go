// Package reconciler repairs what the completion transaction cannot cover:
// a River job that reached a final state without its node being settled.
// That happens when River itself finalizes a job outside the middleware
// (the rescuer discards a job whose worker died on its last attempt, a job
// is cancelled through River's API, a worker panics, a worker completed the
// job with river.JobCompleteTx but not flow.CompleteNodeTx). Such a node is
// settled from its job: completed (with the job's recorded output), failed
// or cancelled, and its dependents released as usual.
//
// One fleet member runs it per interval (RunIfDue takes a lease in
// qf_lease); Reconcile itself is idempotent and safe to run concurrently
// with workers and with itself.
package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/dbtx"
	"github.com/quantumflow/quantumflow/internal/noderun"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

const (
	// LookbackDefault is how far back the reconciler looks for finalized
	// jobs whose node was never settled.
	LookbackDefault = 6 * time.Hour

	// batchMax bounds the nodes one Reconcile settles.
	batchMax = 1000
)

// Reconcile settles the nodes of jobs finalized more than grace ago whose
// node is still enqueued for the job's run, and returns how many it
// settled. Jobs finalized within grace are left alone: their worker may be
// committing.
func Reconcile(ctx context.Context, env *noderun.Env, grace time.Duration) (int, error) {
	found, err := riverjob.FindUnsettled(ctx, env.Pool, grace, LookbackDefault, batchMax)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	outcomes := make([]release.Outcome, 0, len(found))
	for _, u := range found {
		meta, ok := riverjob.ParseMeta(u.Job.Metadata)
		if !ok {
			continue
		}
		var o release.Outcome
		switch u.State {
		case rivertype.JobStateCompleted:
			o = noderun.Outcome(u.Job, meta, flowtype.NodeCompleted, "")
			o.Output = u.Job.Output()
		case rivertype.JobStateDiscarded:
			o = noderun.Outcome(u.Job, meta, flowtype.NodeFailed, "job discarded by River")
		default:
			o = noderun.Outcome(u.Job, meta, flowtype.NodeCancelled, "job cancelled through River")
		}
		if e := riverjob.LastError(u.Errors); e != nil {
			o.Err = *e
		}
		outcomes = append(outcomes, o)
	}
	if len(outcomes) == 0 {
		return 0, nil
	}
	var (
		settled int
		stats   observe.Stats
	)
	if err := dbtx.Run(ctx, env.Pool, env.Logger, "reconcile", func(tx pgx.Tx) error {
		var err error
		settled, stats, err = release.FinishTx(ctx, tx, env.Inserter, outcomes)
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	observe.Report(env.Observer, stats)
	if settled > 0 {
		env.Logger.InfoContext(ctx, "flow: reconciler settled nodes from finished jobs", slog.Int("nodes", settled))
	}
	return settled, nil
}

// RunIfDue runs Reconcile when the fleet's reconcile lease has expired,
// taking it for interval under holder's name, and reports whether it ran.
// Of all the members calling it, one per interval runs the reconciler.
func RunIfDue(ctx context.Context, env *noderun.Env, holder string, interval, grace time.Duration) (bool, error) {
	tag, err := env.Pool.Exec(ctx, `
UPDATE qf_lease SET holder = $1, expires_at = now() + $2::interval
WHERE name = 'reconcile' AND expires_at < now()`, holder, interval)
	if err != nil {
		return false, fmt.Errorf("take the reconcile lease: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	_, err = Reconcile(ctx, env, grace)
	return true, err
}
