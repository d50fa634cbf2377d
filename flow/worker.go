package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// This file is worker setup: the middleware that turns River workers into
// workflow nodes, the River configuration a worker needs, and StartWorker,
// the whole lifecycle of a fleet member in one call.

const (
	// FetchCooldownDefault is the River FetchCooldown RiverConfig sets when
	// the caller leaves it zero (River's default is 100ms): a released
	// child starts within milliseconds.
	FetchCooldownDefault = 2 * time.Millisecond

	// FetchPollIntervalDefault is the River FetchPollInterval RiverConfig
	// sets when the caller leaves it zero (River's default is 1s).
	FetchPollIntervalDefault = 100 * time.Millisecond
)

// ErrRiverSchema is returned by RiverConfig and StartWorker for a
// river.Config with Schema set: QuantumFlow's statements find River's
// tables through the pool's search_path, so the schema is chosen there.
var ErrRiverSchema = errors.New("river.Config.Schema is not supported: select the schema with the pool's search_path (e.g. ?search_path=myschema in the database URL)")

// Middleware returns the River worker middleware that turns ordinary River
// workers into workflow nodes. Install it in the worker's river.Config
// (RiverConfig does). For a job that belongs to a workflow it:
//
//   - moves the workflow from pending to running on its first job;
//   - enforces the node's timeout (the context is cancelled with ErrTimeout
//     as its cause, and the attempt fails saying it timed out);
//   - on success, completes the job with River, stores the node's output
//     and releases the dependents that became ready, all in one
//     transaction (shared with other nodes of this process finishing at the
//     same time, see Config.CompletionBatchMax);
//   - on the last failed attempt, records the node as failed and applies
//     its dependents' on_dep_failure policies, in one transaction, before
//     River discards the job.
//
// Jobs that are not part of a workflow pass through untouched.
//
// Handing it out also makes this client's fleet members report the jobs the
// process runs with their heartbeats, so that the sweep hands back a job
// marked running under this process that it never received (see
// Member.Run). Install it in every River client of the process that uses
// this flow client.
func (c *Client) Middleware() rivertype.WorkerMiddleware {
	c.env.Held.Arm()
	return c.middleware
}

// RiverConfig returns a copy of cfg completed for a QuantumFlow worker; cfg
// itself, its Workers bundle and its slices are left as they are, so it may
// be called again:
//
//   - the node middleware (Middleware) is appended to WorkerMiddleware;
//   - unset fetch settings are tuned so a released child starts within
//     milliseconds: FetchCooldownDefault and FetchPollIntervalDefault.
//
// JobTimeout is left as it is, because River's rescuer never rescues a job
// whose timeout is negative (none). A node's `timeout` is enforced by the
// middleware; River's own timeout for the job is the worker's Timeout(job),
// else JobTimeout. Workers whose nodes may run longer than JobTimeout should
// return JobTimeout(job) from Timeout (the built-in kinds do).
//
// The reconciler is not a River job: fleet members run it (see Member.Run).
// Returns ErrRiverSchema when cfg.Schema is set.
func (c *Client) RiverConfig(cfg *river.Config) (*river.Config, error) {
	if cfg.Schema != "" {
		return nil, fmt.Errorf("flow: %w", ErrRiverSchema)
	}
	out := *cfg
	out.WorkerMiddleware = append(append([]rivertype.WorkerMiddleware(nil), cfg.WorkerMiddleware...), c.Middleware())
	if out.FetchCooldown == 0 {
		out.FetchCooldown = FetchCooldownDefault
	}
	if out.FetchPollInterval == 0 {
		out.FetchPollInterval = FetchPollIntervalDefault
	}
	return &out, nil
}

// WorkerConfig configures StartWorker.
type WorkerConfig struct {
	// River is the worker's River configuration: Queues and Workers are
	// required; ID defaults to NewWorkerID(). It is completed by
	// RiverConfig and not modified.
	River *river.Config

	// Kinds are the kinds this process's Workers run. They are registered
	// (RegisterKinds), so that specs using them are accepted, and shown in
	// qf_worker.
	Kinds []string

	// HeartbeatInterval and DeadAfter configure the fleet membership (see
	// MemberConfig).
	HeartbeatInterval time.Duration
	DeadAfter         time.Duration

	// Logger defaults to the client's logger.
	Logger *slog.Logger
}

// Worker is a running fleet member: a River client working jobs, with the
// membership that heartbeats, sweeps and reconciles beside it. Stop it with
// Stop or StopAndCancel.
type Worker struct {
	rc     *river.Client[pgx.Tx]
	member *Member
	logger *slog.Logger

	stopMember context.CancelFunc
	memberDone chan struct{}
	leaveOnce  sync.Once
	leaveErr   error
}

// StartWorker starts a fleet member in the order the fleet's rules need:
// it registers cfg.Kinds, joins the fleet (the first heartbeat, so that no
// job is ever held under an ID the fleet does not know), starts the
// membership loop and then the River client. On any error, what was started
// is undone (the member leaves) and the error names the step.
//
// ctx bounds the start only; the worker runs until Stop or StopAndCancel.
func (c *Client) StartWorker(ctx context.Context, cfg *WorkerConfig) (*Worker, error) {
	if cfg == nil || cfg.River == nil {
		return nil, errors.New("flow: start worker: WorkerConfig.River is required")
	}
	rcfg, err := c.RiverConfig(cfg.River)
	if err != nil {
		return nil, fmt.Errorf("flow: start worker: %w", err)
	}
	if rcfg.ID == "" {
		rcfg.ID = NewWorkerID()
	}
	logger := cfg.Logger
	if logger == nil {
		logger = c.config.Logger
	}
	queues := make([]string, 0, len(rcfg.Queues))
	for q := range rcfg.Queues {
		queues = append(queues, q)
	}
	member, err := c.NewMember(MemberConfig{
		ID: rcfg.ID, Queues: queues, Kinds: cfg.Kinds,
		HeartbeatInterval: cfg.HeartbeatInterval, DeadAfter: cfg.DeadAfter, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	rc, err := river.NewClient(riverpgxv5.New(c.pool), rcfg)
	if err != nil {
		return nil, fmt.Errorf("flow: start worker: river client: %w", err)
	}
	if err := c.RegisterKinds(ctx, cfg.Kinds...); err != nil {
		return nil, fmt.Errorf("flow: start worker: %w", err)
	}
	if err := member.Join(ctx); err != nil {
		return nil, fmt.Errorf("flow: start worker: join the fleet: %w", err)
	}
	memberCtx, stopMember := context.WithCancel(context.Background())
	w := &Worker{rc: rc, member: member, logger: logger, stopMember: stopMember, memberDone: make(chan struct{})}
	go func() {
		defer close(w.memberDone)
		_ = member.Run(memberCtx) // returns nil when memberCtx is done
	}()
	// River's Start context is the worker's lifetime, not the start's: a
	// cancelled ctx later must not cancel every job.
	if err := rc.Start(context.WithoutCancel(ctx)); err != nil {
		leaveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = w.leave(leaveCtx)
		return nil, fmt.Errorf("flow: start worker: start river client: %w", err)
	}
	return w, nil
}

// River returns the worker's River client.
func (w *Worker) River() *river.Client[pgx.Tx] { return w.rc }

// Member returns the worker's fleet membership.
func (w *Worker) Member() *Member { return w.member }

// Stopped is closed when the River client stopped, also unexpectedly.
func (w *Worker) Stopped() <-chan struct{} { return w.rc.Stopped() }

// Stop stops fetching new jobs and waits until the running ones finish or
// ctx is done. Once River has stopped, the member leaves the fleet (jobs
// still marked running under it are handed back at once). When ctx ends
// first, Stop returns its error and the worker is still a member: call
// StopAndCancel.
func (w *Worker) Stop(ctx context.Context) error {
	if err := w.rc.Stop(ctx); err != nil {
		return fmt.Errorf("flow: stop worker: %w", err)
	}
	return w.leave(context.WithoutCancel(ctx))
}

// StopAndCancel is Stop that also cancels the contexts of running jobs.
// River makes a job that returns its context's error available again at
// once. Once River has stopped, or ctx is done, the member leaves the fleet;
// a job still running then is handed back by the fleet's next sweep.
func (w *Worker) StopAndCancel(ctx context.Context) error {
	err := w.rc.StopAndCancel(ctx)
	if lerr := w.leave(context.WithoutCancel(ctx)); lerr != nil && err == nil {
		return lerr
	}
	if err != nil {
		return fmt.Errorf("flow: stop worker: %w", err)
	}
	return nil
}

// leave stops the membership loop and leaves the fleet, once.
func (w *Worker) leave(ctx context.Context) error {
	w.leaveOnce.Do(func() {
		w.stopMember()
		<-w.memberDone
		leaveCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		w.leaveErr = w.member.Leave(leaveCtx)
	})
	return w.leaveErr
}
