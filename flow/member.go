package flow

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"
)

// This file is fleet membership: how a worker process tells the others it
// is alive, and how they notice when it is not. River rescues a job only
// once it has run longer than RescueStuckJobsAfter (an hour by default);
// shortening that would also re-run long healthy jobs. Instead every worker
// keeps a heartbeat row in qf_worker under its River client ID, which River
// records in river_job.attempted_by when the worker fetches a job. Any
// member whose sweep finds a row whose heartbeat is older than its
// dead_after declares that worker dead and hands back the jobs it was
// running. A healthy worker keeps its jobs however long they run.

const (
	// HeartbeatIntervalDefault is how often a member writes its heartbeat
	// and sweeps for dead workers.
	HeartbeatIntervalDefault = time.Second

	// DeadAfterDefault is how long a member may go without a heartbeat
	// before others declare it dead and hand back its running jobs.
	DeadAfterDefault = 5 * time.Second

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

// MemberConfig configures a fleet Member.
type MemberConfig struct {
	// ID is the River client ID of this process's River client
	// (river.Config.ID); it must be unique in the fleet. NewWorkerID makes
	// one. Required.
	ID string

	// Queues and Kinds describe the worker, for operators reading qf_worker.
	Queues []string
	Kinds  []string

	// HeartbeatInterval is how often the member writes its heartbeat and
	// sweeps for dead workers. Defaults to HeartbeatIntervalDefault.
	HeartbeatInterval time.Duration

	// DeadAfter is how long this member may go without a heartbeat before
	// other members declare it dead. It must be at least three heartbeat
	// intervals, so that one slow heartbeat is not a death. Defaults to
	// DeadAfterDefault.
	DeadAfter time.Duration

	// Logger defaults to the client's logger.
	Logger *slog.Logger
}

// Member is one worker process's membership in the fleet. Create it with
// Client.NewMember, Join before starting the River client, Run in a
// goroutine while it works, and Leave after the River client stopped.
type Member struct {
	client *Client
	cfg    MemberConfig
	last   atomic.Int64 // unix nanoseconds of the last successful heartbeat

	// streakStart is when the current run of successful heartbeats began
	// (zero after a failed one). Run touches it only from its goroutine.
	streakStart time.Time
}

// NewWorkerID returns an ID for a worker's River client that is unique in
// the fleet and says where the process runs: host-pid-random.
func NewWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	host = strings.ReplaceAll(host, " ", "_")
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// NewMember returns the fleet membership of the worker whose River client
// has cfg.ID. It fails when the ID is empty or the intervals are unusable.
func (c *Client) NewMember(cfg MemberConfig) (*Member, error) {
	cfg.HeartbeatInterval = cmp.Or(cfg.HeartbeatInterval, HeartbeatIntervalDefault)
	cfg.DeadAfter = cmp.Or(cfg.DeadAfter, DeadAfterDefault)
	cfg.Logger = cmp.Or(cfg.Logger, c.config.Logger)
	switch {
	case cfg.ID == "":
		return nil, errors.New("flow: member: ID is required (the River client's ID)")
	case len(cfg.ID) > 200:
		return nil, fmt.Errorf("flow: member: ID is %d bytes long (limit 200)", len(cfg.ID))
	case cfg.HeartbeatInterval < 10*time.Millisecond:
		return nil, fmt.Errorf("flow: member: HeartbeatInterval must be at least 10ms (got %s)", cfg.HeartbeatInterval)
	case cfg.DeadAfter < 3*cfg.HeartbeatInterval:
		return nil, fmt.Errorf("flow: member: DeadAfter (%s) must be at least 3 × HeartbeatInterval (%s)", cfg.DeadAfter, cfg.HeartbeatInterval)
	}
	return &Member{client: c, cfg: cfg}, nil
}

// ID returns the member's River client ID.
func (m *Member) ID() string { return m.cfg.ID }

// LastHeartbeat returns when the member last wrote its heartbeat, or the
// zero time before the first.
func (m *Member) LastHeartbeat() time.Time {
	n := m.last.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Join writes the member's first heartbeat. Call it before the River client
// starts fetching, so that no job is ever held under an ID the fleet does
// not know.
func (m *Member) Join(ctx context.Context) error {
	return m.heartbeat(ctx)
}

// Run writes a heartbeat and sweeps for dead workers every
// HeartbeatInterval until ctx is done, then returns nil. Database errors are
// logged and retried at the next tick: a member that cannot reach the
// database stops heartbeating, and the others hand back its jobs once it has
// been silent for DeadAfter.
func (m *Member) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		opCtx, cancel := context.WithTimeout(ctx, m.cfg.DeadAfter/2)
		if err := m.heartbeat(opCtx); err != nil {
			m.streakStart = time.Time{}
			if ctx.Err() == nil {
				m.cfg.Logger.WarnContext(ctx, "flow: heartbeat failed", slog.String("worker", m.cfg.ID), slog.String("err", err.Error()))
			}
			cancel()
			continue
		}
		now := time.Now()
		if m.streakStart.IsZero() {
			m.streakStart = now
		}
		if _, err := m.client.sweep(opCtx, now.Sub(m.streakStart)); err != nil && ctx.Err() == nil {
			m.cfg.Logger.WarnContext(ctx, "flow: dead-worker sweep failed", slog.String("err", err.Error()))
		}
		cancel()
	}
}

// heartbeat upserts the member's row. A row that a sweep had declared dead
// comes back to life: the worker was paused or cut off, its jobs have been
// handed back and may run twice, which the node state makes harmless.
func (m *Member) heartbeat(ctx context.Context) error {
	host, _ := os.Hostname()
	var wasDead bool
	err := m.client.pool.QueryRow(ctx, `
WITH prev AS (SELECT dead_at FROM qf_worker WHERE id = $1)
INSERT INTO qf_worker (id, host, pid, queues, kinds, dead_after_ms)
VALUES ($1, $2, $3, coalesce($4::text[], '{}'), coalesce($5::text[], '{}'), $6)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), dead_at = NULL, dead_after_ms = excluded.dead_after_ms
RETURNING EXISTS (SELECT 1 FROM prev WHERE dead_at IS NOT NULL)`,
		m.cfg.ID, host, os.Getpid(), m.cfg.Queues, m.cfg.Kinds, m.cfg.DeadAfter.Milliseconds()).Scan(&wasDead)
	if err != nil {
		return fmt.Errorf("heartbeat of worker %s: %w", m.cfg.ID, err)
	}
	m.last.Store(time.Now().UnixNano())
	if wasDead {
		m.cfg.Logger.WarnContext(ctx, "flow: this worker had been declared dead (no heartbeat for too long); the jobs it was running were handed back and may run twice",
			slog.String("worker", m.cfg.ID))
	}
	return nil
}

// Leave declares the member gone and hands back, at once, any job still
// marked running under its ID (one whose completion never reached the
// database). Call it after the River client stopped; the member's row is
// kept, marked dead, so later sweeps do the same for stragglers.
func (m *Member) Leave(ctx context.Context) error {
	if _, err := m.client.pool.Exec(ctx, `UPDATE qf_worker SET dead_at = now() WHERE id = $1`, m.cfg.ID); err != nil {
		return fmt.Errorf("leave fleet as worker %s: %w", m.cfg.ID, err)
	}
	// Only the jobs of workers already marked dead (this one): this
	// process cannot vouch for how long it has been connected.
	if _, err := m.client.sweep(ctx, 0); err != nil {
		return fmt.Errorf("leave fleet as worker %s: %w", m.cfg.ID, err)
	}
	return nil
}

// SweepResult tells what SweepDeadWorkers did.
type SweepResult struct {
	// Dead lists the workers this sweep declared dead.
	Dead []string
	// Requeued counts jobs of dead workers made available to run again.
	Requeued int
	// Discarded counts jobs of dead workers that had used their last
	// attempt; their nodes failed.
	Discarded int
}

// SweepDeadWorkers declares dead every worker whose heartbeat is older than
// its dead_after, and hands back the River jobs that dead workers were
// running: a job with attempts left becomes available at once (the dead
// attempt counts as one); a job on its last attempt is discarded and its
// node failed, with its dependents following their policies, in the same
// transaction. It is idempotent and safe to run concurrently (jobs being
// completed right now are skipped, not waited for).
//
// Members sweep on every heartbeat, but only declare a worker dead once
// they have themselves heartbeated without a gap for that worker's
// dead_after: after a database outage every heartbeat is stale, and the
// first member back must not declare the others dead before they had the
// time to reconnect. SweepDeadWorkers itself applies no such limit: call it
// only when the caller knows the database was reachable all along.
func (c *Client) SweepDeadWorkers(ctx context.Context) (*SweepResult, error) {
	return c.sweep(ctx, time.Duration(math.MaxInt64))
}

// sweep is SweepDeadWorkers declaring dead only workers whose dead_after is
// at most vouched: how long the sweeping member has been connected.
func (c *Client) sweep(ctx context.Context, vouched time.Duration) (*SweepResult, error) {
	res := &SweepResult{}
	var stats settleStats
	err := c.inTx(ctx, "sweep dead workers", func(tx pgx.Tx) error {
		*res, stats = SweepResult{}, settleStats{}
		rows, err := tx.Query(ctx, `
UPDATE qf_worker SET dead_at = now()
WHERE dead_at IS NULL AND heartbeat_at < now() - dead_after_ms * interval '1 millisecond'
  AND dead_after_ms <= $1::bigint
RETURNING id`, vouched.Milliseconds())
		if err != nil {
			return fmt.Errorf("declare stale workers dead: %w", err)
		}
		if res.Dead, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("declare stale workers dead: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM qf_worker WHERE dead_at < now() - $1::interval`, deadRowsKept); err != nil {
			return fmt.Errorf("forget long-dead workers: %w", err)
		}
		var recentlyDead bool
		if len(res.Dead) == 0 {
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM qf_worker WHERE dead_at > now() - $1::interval)`,
				rescueWindow).Scan(&recentlyDead); err != nil {
				return fmt.Errorf("look for dead workers: %w", err)
			}
		}
		if len(res.Dead) == 0 && !recentlyDead {
			return nil
		}
		rows, err = tx.Query(ctx, sqlRescueJobs, res.Dead, rescueWindow)
		if err != nil {
			return fmt.Errorf("hand back jobs of dead workers: %w", err)
		}
		var outcomes []nodeOutcome
		for rows.Next() {
			job := &rivertype.JobRow{}
			var state, msg string
			if err := rows.Scan(&job.ID, &state, &job.Attempt, &job.AttemptedAt, &job.Metadata, &msg); err != nil {
				rows.Close()
				return fmt.Errorf("hand back jobs of dead workers: %w", err)
			}
			if state != "discarded" {
				res.Requeued++
				continue
			}
			res.Discarded++
			if meta, ok := parseJobMeta(job.Metadata); ok {
				outcomes = append(outcomes, nodeOutcome{run: &nodeRun{client: c, job: job, meta: meta}, state: "failed", err: msg})
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("hand back jobs of dead workers: %w", err)
		}
		if len(outcomes) > 0 {
			if _, stats, err = c.finishNodeTx(ctx, tx, outcomes); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.report(stats)
	if len(res.Dead) > 0 || res.Requeued > 0 || res.Discarded > 0 {
		if obs := c.config.Observer; obs != nil {
			obs.WorkersSwept(len(res.Dead), res.Requeued, res.Discarded)
		}
		c.config.Logger.WarnContext(ctx, "flow: handed back jobs of dead workers",
			slog.Any("dead", res.Dead), slog.Int("requeued", res.Requeued), slog.Int("discarded", res.Discarded))
	}
	return res, nil
}

// sqlRescueJobs hands back the running jobs whose current attempt belongs to
// a dead worker ($1: workers declared dead by this statement's transaction,
// whose dead_at is not yet visible to a fresh snapshot of other sessions;
// plus every row marked dead within $2, rescueWindow). River appends the worker's
// ID to attempted_by when it fetches a job, so the last element is the
// holder of the current attempt. Rows locked by a transaction completing
// the job right now are skipped: that worker is evidently alive, and the
// next sweep looks again. The error entry has River's shape.
const sqlRescueJobs = `
WITH dead AS (
    SELECT unnest($1::text[]) AS id
    UNION
    SELECT id FROM qf_worker WHERE dead_at IS NOT NULL AND dead_at > now() - $2::interval
), stuck AS (
    SELECT j.id, j.attempted_by[cardinality(j.attempted_by)] AS holder
    FROM river_job j
    WHERE j.state = 'running'
      AND j.attempted_by[cardinality(j.attempted_by)] IN (SELECT id FROM dead)
    ORDER BY j.id
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE river_job j SET
    state        = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'available' END::river_job_state,
    scheduled_at = now(),
    finalized_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
    errors       = array_append(j.errors, jsonb_build_object(
        'at', now(), 'attempt', j.attempt, 'trace', '',
        'error', format('worker %s died (no heartbeat) while running this job', s.holder)))
FROM stuck s
WHERE j.id = s.id
RETURNING j.id, j.state::text, j.attempt, j.attempted_at, j.metadata,
          format('worker %s died (no heartbeat) while running this job', s.holder)`
