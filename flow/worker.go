package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/internal/fleet"
	"github.com/quantumflow/quantumflow/internal/noderun"
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
//     milliseconds: FetchCooldownDefault and FetchPollIntervalDefault;
//   - RetryPolicy becomes one that retries the jobs of nodes with a retry
//     setting after that setting's backoff, and every other job after
//     cfg.RetryPolicy's (River's default when nil). A worker's own
//     NextRetry still wins, as in River;
//   - the worker of workflow deadlines (DeadlineArgs) is added to
//     cfg.Workers, so every worker can cancel a workflow past its deadline
//     (the one change made to what cfg points to).
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
	// Nodes that set retry get their own backoff; other jobs keep the
	// caller's policy.
	out.RetryPolicy = &noderun.RetryPolicy{Fallback: cfg.RetryPolicy}
	c.registerDeadlineWorker(out.Workers)
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
//
// When the fleet declares the worker dead while it is in fact alive (the
// process was paused, or cut off from the database for longer than its
// DeadAfter), its jobs have been handed to other workers. The worker then
// cancels what it still runs at once (the jobs' contexts end with
// ErrDeclaredDead, and their attempts record nothing), and rejoins under a
// new ID with a new River client; the old client stops in the background
// once each cancelled job's new owner has finished with it.
type Worker struct {
	client *Client
	rcfg   river.Config // completed by RiverConfig; ID replaced on rejoin
	mcfg   MemberConfig
	logger *slog.Logger

	mu       sync.Mutex
	gen      *generation   // the River client and member now working
	retiring []*generation // clients stopping after a rejoin
	stopping bool
	stopped  chan struct{}
	stopOnce sync.Once
}

// generation is one River client and its fleet member.
type generation struct {
	rc         *river.Client[pgx.Tx]
	member     *Member
	stopMember context.CancelFunc
	memberDone chan struct{}
	leaveOnce  sync.Once
	leaveErr   error
}

// ErrDeclaredDead is the cause of a job's context when the fleet declared
// its worker dead and handed the job to another worker.
var ErrDeclaredDead = noderun.ErrDeclaredDead

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
	sort.Strings(queues)
	w := &Worker{
		client: c, rcfg: *rcfg, logger: logger, stopped: make(chan struct{}),
		mcfg: MemberConfig{
			Queues: queues, Kinds: cfg.Kinds, Logger: logger,
			HeartbeatInterval: cfg.HeartbeatInterval, DeadAfter: cfg.DeadAfter,
		},
	}
	if err := c.RegisterKinds(ctx, cfg.Kinds...); err != nil {
		return nil, fmt.Errorf("flow: start worker: %w", err)
	}
	g, err := w.start(ctx, rcfg.ID)
	if err != nil {
		return nil, fmt.Errorf("flow: start worker: %w", err)
	}
	w.mu.Lock()
	w.gen = g
	w.mu.Unlock()
	go w.watch(g)
	return w, nil
}

// start makes a River client and a member with id, joins the fleet, starts
// the membership loop and then River.
func (w *Worker) start(ctx context.Context, id string) (*generation, error) {
	mcfg := w.mcfg
	mcfg.ID = id
	member, err := w.client.NewMember(mcfg)
	if err != nil {
		return nil, err
	}
	rcfg := w.rcfg
	rcfg.ID = id
	rc, err := river.NewClient(riverpgxv5.New(w.client.pool), &rcfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	g := &generation{rc: rc, member: member, memberDone: make(chan struct{})}
	member.m.SetOnDeclaredDead(func() { w.rejoin(g) })
	if err := member.Join(ctx); err != nil {
		return nil, fmt.Errorf("join the fleet: %w", err)
	}
	var memberCtx context.Context
	memberCtx, g.stopMember = context.WithCancel(context.Background())
	go func() {
		defer close(g.memberDone)
		_ = member.Run(memberCtx) // returns nil when memberCtx is done
	}()
	// River's Start context is the worker's lifetime, not the start's: a
	// cancelled ctx later must not cancel every job.
	if err := rc.Start(context.WithoutCancel(ctx)); err != nil {
		leaveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = g.leave(leaveCtx)
		return nil, fmt.Errorf("start river client: %w", err)
	}
	return g, nil
}

// rejoin replaces generation old, which the fleet declared dead, with a
// new River client under a new ID: the old client stops fetching, the jobs
// it still runs are cancelled, and it leaves once they returned.
func (w *Worker) rejoin(old *generation) {
	w.mu.Lock()
	if w.stopping || w.gen != old {
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	ctx := context.Background()
	// Cancel first, so that each job's context ends with ErrDeclaredDead
	// rather than with River's stop.
	cancelled := w.client.env.Held.CancelAll(old.member.ID())
	oldStopped := make(chan struct{})
	go func() {
		defer close(oldStopped)
		stopCtx, cancel := context.WithTimeout(ctx, 2*noderun.HandbackWaitMax)
		defer cancel()
		_ = old.rc.Stop(stopCtx) // stops fetching now; returns once its jobs did
	}()
	g, err := w.start(ctx, fleet.RejoinID(old.member.ID()))
	if err != nil {
		w.logger.Error("flow: rejoining the fleet under a new id failed; stopping", slog.String("old_id", old.member.ID()), slog.String("error", err.Error()))
		w.mu.Lock()
		w.retiring = append(w.retiring, old)
		w.mu.Unlock()
		w.markStopped()
		return
	}
	w.mu.Lock()
	if w.stopping {
		// Stop began while the new client started: it stops old, so stop
		// the new one here.
		w.mu.Unlock()
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = g.rc.StopAndCancel(stopCtx)
		_ = g.leave(stopCtx)
		return
	}
	w.gen = g
	w.retiring = append(w.retiring, old)
	w.mu.Unlock()
	go w.watch(g)
	w.logger.Warn("flow: rejoined the fleet under a new id after being declared dead",
		slog.String("old_id", old.member.ID()), slog.String("id", g.member.ID()), slog.Int("cancelled_jobs", cancelled))
	go func() {
		<-oldStopped
		leaveCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = old.leave(leaveCtx)
	}()
}

// watch closes w.stopped when g's River client stops while g is the
// worker's current generation: after Stop, or unexpectedly.
func (w *Worker) watch(g *generation) {
	<-g.rc.Stopped()
	w.mu.Lock()
	current := w.gen == g
	w.mu.Unlock()
	if current {
		w.markStopped()
	}
}

func (w *Worker) markStopped() { w.stopOnce.Do(func() { close(w.stopped) }) }

func (w *Worker) current() *generation {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen
}

// River returns the worker's River client (a new one after a rejoin).
func (w *Worker) River() *river.Client[pgx.Tx] { return w.current().rc }

// Member returns the worker's fleet membership (a new one after a rejoin).
func (w *Worker) Member() *Member { return w.current().member }

// ID returns the worker's current River client ID.
func (w *Worker) ID() string { return w.current().member.ID() }

// LastHeartbeat returns when the worker's current member last wrote its
// heartbeat.
func (w *Worker) LastHeartbeat() time.Time { return w.current().member.LastHeartbeat() }

// Stopped is closed when the worker stopped: after Stop or StopAndCancel,
// or when its River client stopped unexpectedly (a rejoin's old client
// stopping does not count).
func (w *Worker) Stopped() <-chan struct{} { return w.stopped }

// Stop stops fetching new jobs and waits until the running ones finish or
// ctx is done. Once River has stopped, the member leaves the fleet (jobs
// still marked running under it are handed back at once). When ctx ends
// first, Stop returns its error and the worker is still a member: call
// StopAndCancel.
func (w *Worker) Stop(ctx context.Context) error {
	g := w.beginStop()
	if err := g.rc.Stop(ctx); err != nil {
		return fmt.Errorf("flow: stop worker: %w", err)
	}
	w.markStopped()
	return w.leaveAll(ctx, g, func(rc *river.Client[pgx.Tx]) error { return rc.Stop(ctx) })
}

// StopAndCancel is Stop that also cancels the contexts of running jobs.
// River makes a job that returns its context's error available again at
// once. Once River has stopped, or ctx is done, the member leaves the fleet;
// a job still running then is handed back by the fleet's next sweep.
func (w *Worker) StopAndCancel(ctx context.Context) error {
	g := w.beginStop()
	err := g.rc.StopAndCancel(ctx)
	w.markStopped()
	if lerr := w.leaveAll(ctx, g, func(rc *river.Client[pgx.Tx]) error { return rc.StopAndCancel(ctx) }); lerr != nil && err == nil {
		return lerr
	}
	if err != nil {
		return fmt.Errorf("flow: stop worker: %w", err)
	}
	return nil
}

func (w *Worker) beginStop() *generation {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopping = true
	return w.gen
}

// leaveAll leaves the fleet as g, and stops (with stop, bounded by ctx) and
// leaves the generations a rejoin retired.
func (w *Worker) leaveAll(ctx context.Context, g *generation, stop func(*river.Client[pgx.Tx]) error) error {
	err := g.leave(context.WithoutCancel(ctx))
	w.mu.Lock()
	retiring := w.retiring
	w.mu.Unlock()
	for _, old := range retiring {
		_ = stop(old.rc)
		_ = old.leave(context.WithoutCancel(ctx))
	}
	return err
}

// leave stops the membership loop and leaves the fleet, once.
func (g *generation) leave(ctx context.Context) error {
	g.leaveOnce.Do(func() {
		if g.stopMember != nil {
			g.stopMember()
			<-g.memberDone
		}
		leaveCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		g.leaveErr = g.member.Leave(leaveCtx)
	})
	return g.leaveErr
}
