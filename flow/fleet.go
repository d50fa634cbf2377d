package flow

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/quantumflow/quantumflow/internal/fleet"
)

const (
	// HeartbeatIntervalDefault is how often a member writes its heartbeat
	// and sweeps for dead workers.
	HeartbeatIntervalDefault = fleet.HeartbeatIntervalDefault

	// DeadAfterDefault is how long a member may go without a heartbeat
	// before others declare it dead and hand back its running jobs.
	DeadAfterDefault = fleet.DeadAfterDefault

	// MemberIDMax is the longest member ID, River's limit for a client ID.
	MemberIDMax = fleet.IDMax
)

// MemberConfig configures a fleet Member.
type MemberConfig struct {
	// ID is the River client ID of this process's River client
	// (river.Config.ID); it must be unique in the fleet and at most
	// MemberIDMax bytes. NewWorkerID makes one. Required.
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

// Member is one worker process's membership in the fleet: its heartbeat,
// the sweep that hands back the jobs of dead workers, and its turn at the
// fleet's reconciler. StartWorker runs one; to assemble a worker by hand,
// create it with Client.NewMember, Join before starting the River client,
// Run in a goroutine while it works, and Leave after the River client
// stopped.
type Member struct {
	m *fleet.Member
}

// NewWorkerID returns an ID for a worker's River client that is unique in
// the fleet and says where the process runs: host-pid-random, at most
// MemberIDMax bytes.
func NewWorkerID() string { return fleet.NewID() }

// NewMember returns the fleet membership of the worker whose River client
// has cfg.ID. It fails when the ID is empty or longer than MemberIDMax, or
// the intervals are unusable.
func (c *Client) NewMember(cfg MemberConfig) (*Member, error) {
	m, err := fleet.New(c.env, fleet.Config{
		ID:                cfg.ID,
		Queues:            cfg.Queues,
		Kinds:             cfg.Kinds,
		HeartbeatInterval: cfg.HeartbeatInterval,
		DeadAfter:         cfg.DeadAfter,
		ReconcileInterval: c.config.ReconcileInterval,
		ReconcileGrace:    c.config.ReconcileGrace,
		Logger:            cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("flow: member: %w", err)
	}
	return &Member{m: m}, nil
}

// ID returns the member's River client ID.
func (m *Member) ID() string { return m.m.ID() }

// LastHeartbeat returns when the member last wrote its heartbeat, or the
// zero time before the first.
func (m *Member) LastHeartbeat() time.Time { return m.m.LastHeartbeat() }

// Join writes the member's first heartbeat. Call it before the River client
// starts fetching, so that no job is ever held under an ID the fleet does
// not know.
func (m *Member) Join(ctx context.Context) error { return m.m.Join(ctx) }

// Run writes a heartbeat and sweeps for dead workers every
// HeartbeatInterval until ctx is done, then returns nil; it also runs the
// reconciler when the fleet's turn falls to this member (one member per
// Config.ReconcileInterval). Database errors are logged and retried at the
// next tick: a member that cannot reach the database stops heartbeating,
// and the others hand back its jobs once it has been silent for DeadAfter.
// A member declares others dead only once it has itself heartbeated without
// a gap for their DeadAfter, so that after an outage the first member back
// does not declare the others dead before they could reconnect.
func (m *Member) Run(ctx context.Context) error { return m.m.Run(ctx) }

// Leave declares the member gone and hands back, at once, any job still
// marked running under its ID (one whose completion never reached the
// database). Call it after the River client stopped; the member's row is
// kept, marked dead, so later sweeps do the same for stragglers.
func (m *Member) Leave(ctx context.Context) error { return m.m.Leave(ctx) }

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
// dead_after. SweepDeadWorkers itself applies no such limit: call it only
// when the caller knows the database was reachable all along.
func (c *Client) SweepDeadWorkers(ctx context.Context) (*SweepResult, error) {
	res, err := fleet.Sweep(ctx, c.env, time.Duration(math.MaxInt64))
	if err != nil {
		return nil, err
	}
	return &SweepResult{Dead: res.Dead, Requeued: res.Requeued, Discarded: res.Discarded}, nil
}
