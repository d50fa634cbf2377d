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
	"errors"
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

	// FullEvery is how often the fleet's reconciler pass (RunIfDue) looks
	// back LookbackDefault; the passes between look only at the jobs
	// finalized since the previous pass checked, less watermarkMargin.
	FullEvery = time.Hour

	// watermarkMargin widens an incremental pass's window back past the
	// previous pass's watermark: for the clocks of the processes that
	// stamp finalized_at (River's completer uses its client's), and for a
	// finalization that committed a moment after its stamp.
	watermarkMargin = time.Minute
)

// Reconcile settles the nodes of jobs finalized more than grace ago whose
// node is still enqueued for the job's run, and returns how many it
// settled. Jobs finalized within grace are left alone: their worker may be
// committing.
func Reconcile(ctx context.Context, env *noderun.Env, grace time.Duration) (int, error) {
	settled, _, err := reconcileSince(ctx, env, grace, nil)
	return settled, err
}

// reconcileSince is Reconcile over the jobs finalized after since (nil:
// LookbackDefault ago). more is true when it found batchMax of them: the
// next pass must look at the same window again.
func reconcileSince(ctx context.Context, env *noderun.Env, grace time.Duration, since *time.Time) (settled int, more bool, err error) {
	found, err := riverjob.FindUnsettled(ctx, env.Pool, grace, LookbackDefault, since, batchMax)
	if err != nil {
		return 0, false, fmt.Errorf("reconcile: %w", err)
	}
	more = len(found) == batchMax
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
		return 0, more, nil
	}
	var stats observe.Stats
	if err := dbtx.Run(ctx, env.Pool, env.Logger, "reconcile", func(tx pgx.Tx) error {
		var err error
		settled, stats, err = release.FinishTx(ctx, tx, env.Inserter, outcomes)
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		return nil
	}); err != nil {
		return 0, false, err
	}
	observe.Report(env.Observer, stats)
	if settled > 0 {
		env.Logger.InfoContext(ctx, "flow: reconciler settled nodes from finished jobs", slog.Int("nodes", settled))
	}
	return settled, more, nil
}

// RunIfDue runs the fleet's reconciler pass when the reconcile lease has
// expired, taking it for interval under holder's name, and reports whether
// it ran. Of all the members calling it, one per interval runs it.
//
// A pass looks at the jobs finalized since the lease's watermark
// (checked_until: the previous pass's start less grace) less
// watermarkMargin, and moves the watermark on when it found fewer than
// batchMax. Once per FullEvery (full_at), and when there is no watermark
// yet, it looks back LookbackDefault, as Reconcile does. On a busy fleet a
// six-hour pass is every job of those hours, each joined to its node
// (seconds of CPU on a 2-core server during a 120 000-node run), where an
// incremental pass is the last minute or so.
func RunIfDue(ctx context.Context, env *noderun.Env, holder string, interval, grace time.Duration) (bool, error) {
	var (
		now                  time.Time
		checkedUntil, fullAt *time.Time
	)
	err := env.Pool.QueryRow(ctx, `
UPDATE qf_lease SET holder = $1, expires_at = now() + $2::interval
WHERE name = 'reconcile' AND expires_at < now()
RETURNING now(), checked_until, full_at`, holder, interval).Scan(&now, &checkedUntil, &fullAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take the reconcile lease: %w", err)
	}
	full := checkedUntil == nil || fullAt == nil || now.Sub(*fullAt) >= FullEvery
	var since *time.Time
	if !full {
		s := checkedUntil.Add(-watermarkMargin)
		since = &s
	}
	_, more, err := reconcileSince(ctx, env, grace, since)
	if err != nil || more {
		return true, err
	}
	// Everything finalized before now − grace has been looked at (a pass
	// leaves alone what is younger than grace).
	if _, err := env.Pool.Exec(ctx, `
UPDATE qf_lease SET checked_until = $1, full_at = CASE WHEN $2 THEN $3 ELSE full_at END
WHERE name = 'reconcile'`, now.Add(-grace), full, now); err != nil {
		return true, fmt.Errorf("move the reconcile watermark: %w", err)
	}
	return true, nil
}
