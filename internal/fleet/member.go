// Package fleet is fleet membership: how a worker process tells the others
// it is alive, and how they notice when it is not. River rescues a job only
// once it has run longer than RescueStuckJobsAfter (an hour by default);
// shortening that would also re-run long healthy jobs. Instead every worker
// keeps a heartbeat row in qf_worker under its River client ID, which River
// records in river_job.attempted_by when the worker fetches a job. Any
// member whose sweep finds a row whose heartbeat is older than its
// dead_after declares that worker dead and hands back the jobs it was
// running. A healthy worker keeps its jobs however long they run. Members
// also take turns running the fleet's periodic chores (the reconciler).
package fleet

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/internal/noderun"
	"github.com/quantumflow/quantumflow/internal/reconciler"
)

const (
	// HeartbeatIntervalDefault is how often a member writes its heartbeat
	// and sweeps for dead workers.
	HeartbeatIntervalDefault = time.Second

	// DeadAfterDefault is how long a member may go without a heartbeat
	// before others declare it dead and hand back its running jobs.
	DeadAfterDefault = 5 * time.Second

	// IDMax is the longest member ID: River's limit for a client ID.
	IDMax = 100

	// lostCheckInterval is how often a member looks for jobs marked running
	// under it that it never received. Each look scans River's running
	// jobs once (an index range on state), so it runs every few seconds
	// rather than on every heartbeat.
	lostCheckInterval = 2 * time.Second
)

// Config configures a Member.
type Config struct {
	// ID is the River client ID of the process's River client. Required.
	ID string
	// Queues and Kinds describe the worker, for operators reading qf_worker.
	Queues []string
	Kinds  []string
	// HeartbeatInterval defaults to HeartbeatIntervalDefault.
	HeartbeatInterval time.Duration
	// DeadAfter defaults to DeadAfterDefault; at least 3 × HeartbeatInterval.
	DeadAfter time.Duration
	// ReconcileInterval is how often the fleet runs the reconciler (one
	// member per interval); 0 never runs it from this member.
	ReconcileInterval time.Duration
	// ReconcileGrace is the reconciler's grace (see reconciler.Reconcile).
	ReconcileGrace time.Duration
	// Logger defaults to the environment's logger.
	Logger *slog.Logger
	// OnDeclaredDead, when set, is called (on its own goroutine) when a
	// heartbeat finds that the fleet declared this member dead and handed
	// its jobs to others. The member keeps heartbeating under its ID; the
	// caller typically cancels what the process still runs and rejoins
	// under a new ID.
	OnDeclaredDead func()
}

// Member is one worker process's membership in the fleet.
type Member struct {
	env  *noderun.Env
	cfg  Config
	last atomic.Int64 // unix nanoseconds of the last successful heartbeat

	// streakStart is when the current run of successful heartbeats began
	// (zero after a failed one). Run touches it only from its goroutine.
	streakStart time.Time
	// reconcileTried is when Run last tried the reconcile lease.
	reconcileTried time.Time
	// reconciling is set while a reconciler turn runs (on its own
	// goroutine: see tick).
	reconciling atomic.Bool
	// lostChecked is when Run last looked for jobs never received.
	lostChecked time.Time
}

// NewID returns an ID for a worker's River client that is unique in the
// fleet and says where the process runs: host-pid-random, at most IDMax
// bytes.
func NewID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	host = strings.ReplaceAll(host, " ", "_")
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := fmt.Sprintf("-%d-%s", os.Getpid(), hex.EncodeToString(b[:]))
	return host[:min(len(host), IDMax-len(suffix))] + suffix
}

// rejoinSuffixLen is the length of the suffix a rejoin adds to an ID: "-rj"
// and 8 hex digits.
const rejoinSuffixLen = len("-rj") + 8

// RejoinID returns the ID a worker declared dead rejoins under: old with a
// fresh "-rj<hex>" suffix (replacing one an earlier rejoin added), so the
// name an operator gave (a pod's, say) stays recognisable, within IDMax.
func RejoinID(old string) string {
	if n := len(old); n >= rejoinSuffixLen && strings.HasPrefix(old[n-rejoinSuffixLen:], "-rj") && isHex(old[n-8:]) {
		old = old[:n-rejoinSuffixLen]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return old[:min(len(old), IDMax-rejoinSuffixLen)] + "-rj" + hex.EncodeToString(b[:])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// New returns the membership of the worker whose River client has cfg.ID.
// It fails when the ID is empty or too long, or the intervals are unusable.
func New(env *noderun.Env, cfg Config) (*Member, error) {
	cfg.HeartbeatInterval = cmp.Or(cfg.HeartbeatInterval, HeartbeatIntervalDefault)
	cfg.DeadAfter = cmp.Or(cfg.DeadAfter, DeadAfterDefault)
	cfg.Logger = cmp.Or(cfg.Logger, env.Logger)
	switch {
	case cfg.ID == "":
		return nil, errors.New("ID is required (the River client's ID)")
	case len(cfg.ID) > IDMax:
		return nil, fmt.Errorf("ID is %d bytes long (River's limit is %d)", len(cfg.ID), IDMax)
	case cfg.HeartbeatInterval < 10*time.Millisecond:
		return nil, fmt.Errorf("HeartbeatInterval must be at least 10ms (got %s)", cfg.HeartbeatInterval)
	case cfg.DeadAfter < 3*cfg.HeartbeatInterval:
		return nil, fmt.Errorf("DeadAfter (%s) must be at least 3 × HeartbeatInterval (%s)", cfg.DeadAfter, cfg.HeartbeatInterval)
	}
	return &Member{env: env, cfg: cfg}, nil
}

// SetOnDeclaredDead sets Config.OnDeclaredDead; call it before Run.
func (m *Member) SetOnDeclaredDead(fn func()) { m.cfg.OnDeclaredDead = fn }

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
		m.tick(ctx)
	}
}

// tick is one round of Run: heartbeat, sweep, and the chores due.
func (m *Member) tick(ctx context.Context) {
	opCtx, cancel := context.WithTimeout(ctx, m.cfg.DeadAfter/2)
	defer cancel()
	if err := m.heartbeat(opCtx); err != nil {
		m.streakStart = time.Time{}
		if ctx.Err() == nil {
			m.cfg.Logger.WarnContext(ctx, "flow: heartbeat failed", slog.String("worker", m.cfg.ID), slog.String("err", err.Error()))
		}
		return
	}
	now := time.Now()
	if m.streakStart.IsZero() {
		m.streakStart = now
	}
	if _, err := Sweep(opCtx, m.env, now.Sub(m.streakStart)); err != nil && ctx.Err() == nil {
		m.cfg.Logger.WarnContext(ctx, "flow: dead-worker sweep failed", slog.String("err", err.Error()))
	}
	if now.Sub(m.lostChecked) >= lostCheckInterval {
		m.lostChecked = now
		if _, err := m.RescueLost(opCtx); err != nil && ctx.Err() == nil {
			m.cfg.Logger.WarnContext(ctx, "flow: looking for jobs never received failed", slog.String("err", err.Error()))
		}
	}
	// The reconciler's turn runs on its own goroutine, one at a time: a
	// pass can take long (a busy fleet's finished jobs, a lease it waits
	// for), and in this loop it delayed the next heartbeat past DeadAfter
	// (a full ingest of the Go standard library had both workers declared
	// dead every 15 s, at each pass).
	if iv := m.cfg.ReconcileInterval; iv > 0 && now.Sub(m.reconcileTried) >= iv && m.reconciling.CompareAndSwap(false, true) {
		m.reconcileTried = now
		go func() {
			defer m.reconciling.Store(false)
			rctx, rcancel := context.WithTimeout(ctx, iv)
			defer rcancel()
			if _, err := reconciler.RunIfDue(rctx, m.env, m.cfg.ID, iv, m.cfg.ReconcileGrace); err != nil && ctx.Err() == nil {
				m.cfg.Logger.WarnContext(ctx, "flow: reconciler failed", slog.String("err", err.Error()))
			}
		}()
	}
}

// heartbeat upserts the member's row. A row that a sweep had declared dead
// comes back to life: the worker was paused or cut off, its jobs have been
// handed back and may run twice, which the node state makes harmless.
func (m *Member) heartbeat(ctx context.Context) error {
	host, _ := os.Hostname()
	var wasDead bool
	// Two statements, the first locking the row: a sweep that declares
	// this worker dead may commit while the heartbeat runs. Read in the
	// upsert's own snapshot (a CTE), the dead_at it had set was not seen,
	// the upsert cleared it anyway (ON CONFLICT updates the latest
	// version), and the worker never learned that its jobs had been
	// handed to others (TestWorkerDeclaredDeadRejoins failed about one
	// run in ten under -race). SELECT ... FOR UPDATE waits for such a
	// sweep and reads what it wrote.
	err := pgx.BeginFunc(ctx, m.env.Pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT dead_at IS NOT NULL FROM qf_worker WHERE id = $1 FOR UPDATE`, m.cfg.ID).Scan(&wasDead)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_, err = tx.Exec(ctx, `
INSERT INTO qf_worker (id, host, pid, queues, kinds, dead_after_ms)
VALUES ($1, $2, $3, coalesce($4::text[], '{}'), coalesce($5::text[], '{}'), $6)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), dead_at = NULL, dead_after_ms = excluded.dead_after_ms`,
			m.cfg.ID, host, os.Getpid(), m.cfg.Queues, m.cfg.Kinds, m.cfg.DeadAfter.Milliseconds())
		return err
	})
	if err != nil {
		return fmt.Errorf("heartbeat of worker %s: %w", m.cfg.ID, err)
	}
	m.last.Store(time.Now().UnixNano())
	if wasDead {
		if m.cfg.OnDeclaredDead != nil {
			m.cfg.Logger.WarnContext(ctx, "flow: this worker had been declared dead (no heartbeat for too long) and its jobs handed to others; cancelling what it still runs and rejoining under a new id",
				slog.String("worker", m.cfg.ID))
			go m.cfg.OnDeclaredDead()
		} else {
			m.cfg.Logger.WarnContext(ctx, "flow: this worker had been declared dead (no heartbeat for too long); the jobs it was running were handed back and may run twice",
				slog.String("worker", m.cfg.ID))
		}
	}
	return nil
}

// Leave declares the member gone and hands back, at once, any job still
// marked running under its ID (one whose completion never reached the
// database). Call it after the River client stopped; the member's row is
// kept, marked dead, so later sweeps do the same for stragglers.
func (m *Member) Leave(ctx context.Context) error {
	if _, err := m.env.Pool.Exec(ctx, `UPDATE qf_worker SET dead_at = now() WHERE id = $1`, m.cfg.ID); err != nil {
		return fmt.Errorf("leave fleet as worker %s: %w", m.cfg.ID, err)
	}
	// Only the jobs of workers already marked dead (this one): this
	// process cannot vouch for how long it has been connected.
	if _, err := Sweep(ctx, m.env, 0); err != nil {
		return fmt.Errorf("leave fleet as worker %s: %w", m.cfg.ID, err)
	}
	return nil
}
