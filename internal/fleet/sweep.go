package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/dbtx"
	"github.com/quantumflow/quantumflow/internal/noderun"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

const (
	// deadRowsKept is how long the row of a dead worker is kept, for
	// operators reading qf_worker.
	deadRowsKept = 24 * time.Hour

	// rescueWindow is how long after a worker's death sweeps still look for
	// jobs marked running under its ID. The first sweep normally hands back
	// all of them; later ones catch a job that was locked by a committing
	// transaction at the time. Past it, River's own rescuer is the
	// backstop. Sweeps skip the job scan when no worker died within it.
	rescueWindow = 10 * time.Minute
)

// SweepResult tells what a sweep did.
type SweepResult struct {
	// Dead lists the workers this sweep declared dead.
	Dead []string
	// Requeued counts jobs of dead workers made available to run again.
	Requeued int
	// Discarded counts jobs of dead workers that had used their last
	// attempt; their nodes failed.
	Discarded int
}

// Sweep declares dead every worker whose heartbeat is older than its
// dead_after, when that dead_after is at most vouched (how long the
// sweeping member has been connected without a gap), and hands back the
// River jobs that dead workers were running: a job with attempts left
// becomes available at once (the dead attempt counts as one); a job on its
// last attempt is discarded and its node failed, with its dependents
// following their policies, in the same transaction. It is idempotent and
// safe to run concurrently (jobs being completed right now are skipped, not
// waited for).
func Sweep(ctx context.Context, env *noderun.Env, vouched time.Duration) (*SweepResult, error) {
	res := &SweepResult{}
	var stats observe.Stats
	err := dbtx.Run(ctx, env.Pool, env.Logger, "sweep dead workers", func(tx pgx.Tx) error {
		var err error
		*res, stats, err = sweepTx(ctx, tx, env, vouched)
		if err != nil {
			return fmt.Errorf("sweep dead workers: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	observe.Report(env.Observer, stats)
	if len(res.Dead) > 0 || res.Requeued > 0 || res.Discarded > 0 {
		if obs := env.Observer; obs != nil {
			obs.WorkersSwept(len(res.Dead), res.Requeued, res.Discarded)
		}
		env.Logger.WarnContext(ctx, "flow: handed back jobs of dead workers",
			slog.Any("dead", res.Dead), slog.Int("requeued", res.Requeued), slog.Int("discarded", res.Discarded))
	}
	return res, nil
}

func sweepTx(ctx context.Context, tx pgx.Tx, env *noderun.Env, vouched time.Duration) (SweepResult, observe.Stats, error) {
	var res SweepResult
	rows, err := tx.Query(ctx, `
UPDATE qf_worker SET dead_at = now()
WHERE dead_at IS NULL AND heartbeat_at < now() - dead_after_ms * interval '1 millisecond'
  AND dead_after_ms <= $1::bigint
RETURNING id`, vouched.Milliseconds())
	if err != nil {
		return res, observe.Stats{}, fmt.Errorf("declare stale workers dead: %w", err)
	}
	if res.Dead, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return res, observe.Stats{}, fmt.Errorf("declare stale workers dead: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM qf_worker WHERE dead_at < now() - $1::interval`, deadRowsKept); err != nil {
		return res, observe.Stats{}, fmt.Errorf("forget long-dead workers: %w", err)
	}
	if len(res.Dead) == 0 {
		var recentlyDead bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM qf_worker WHERE dead_at > now() - $1::interval)`,
			rescueWindow).Scan(&recentlyDead); err != nil {
			return res, observe.Stats{}, fmt.Errorf("look for dead workers: %w", err)
		}
		if !recentlyDead {
			return res, observe.Stats{}, nil
		}
	}
	rescued, err := riverjob.RescueDeadTx(ctx, tx, res.Dead, rescueWindow)
	if err != nil {
		return res, observe.Stats{}, err
	}
	stats, err := settleRescuedTx(ctx, tx, env, rescued, &res)
	return res, stats, err
}

// settleRescuedTx counts handed-back jobs into res and fails, in tx, the
// nodes of those discarded on their last attempt, with their dependents
// following their policies.
func settleRescuedTx(ctx context.Context, tx pgx.Tx, env *noderun.Env, rescued []riverjob.Rescued, res *SweepResult) (observe.Stats, error) {
	var outcomes []release.Outcome
	for _, r := range rescued {
		if !r.Discarded {
			res.Requeued++
			continue
		}
		res.Discarded++
		if meta, ok := riverjob.ParseMeta(r.Job.Metadata); ok {
			outcomes = append(outcomes, noderun.Outcome(r.Job, meta, flowtype.NodeFailed, r.Message))
		}
	}
	if len(outcomes) == 0 {
		return observe.Stats{}, nil
	}
	_, stats, err := release.FinishTx(ctx, tx, env.Inserter, outcomes)
	return stats, err
}

// LostGrace is how long after its fetch a job must have been running under
// a live worker, without that worker running it, before the worker hands it
// back as never received: River starts a fetched job's Work at once, so
// seconds mean the process never got it.
const LostGrace = 3 * time.Second

// RescueLost hands back the jobs marked running under the member's ID that
// its process does not run (env.Held): their fetch committed, but the
// process never received them. Only the holder can tell, since only it
// knows what it runs; a member whose Held is not armed (its process does
// not run flow's middleware) does nothing.
func (m *Member) RescueLost(ctx context.Context) (*SweepResult, error) {
	held := m.env.Held
	if held == nil || !held.Armed() {
		return &SweepResult{}, nil
	}
	res := &SweepResult{}
	var stats observe.Stats
	err := dbtx.Run(ctx, m.env.Pool, m.env.Logger, "hand back jobs never received", func(tx pgx.Tx) error {
		*res = SweepResult{}
		rescued, err := riverjob.RescueLostTx(ctx, tx, m.cfg.ID, held.Snapshot(), LostGrace)
		if err != nil {
			return err
		}
		stats, err = settleRescuedTx(ctx, tx, m.env, rescued, res)
		return err
	})
	if err != nil {
		return nil, err
	}
	observe.Report(m.env.Observer, stats)
	if res.Requeued > 0 || res.Discarded > 0 {
		if obs := m.env.Observer; obs != nil {
			obs.WorkersSwept(0, res.Requeued, res.Discarded)
		}
		m.cfg.Logger.WarnContext(ctx, "flow: handed back jobs this worker never received (their fetch committed unseen)",
			slog.String("worker", m.cfg.ID), slog.Int("requeued", res.Requeued), slog.Int("discarded", res.Discarded))
	}
	return res, nil
}
