package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// pollInterval is how often the bench asks whether a phase is done. The
// polls are read-only transactions, counted and subtracted from the
// phase's commits; timings come from the jobs' own timestamps, so the
// interval does not bound what is measured.
const pollInterval = 100 * time.Millisecond

// Where a phase's throughput span starts.
const (
	fromFirstStart  = "first_start"  // queued work drained: first attempted_at
	fromFirstInsert = "first_insert" // inserted while working: first created_at
)

// phase is one side of a shape: set up work, run a worker process until the
// work is done, and measure.
type phase struct {
	shape string
	label string // "river", "quantumflow", "quantumflow_small", ...
	mode  string // the worker's mode: modeRiver or modeQuantumFlow
	// nodes divides the database cost: River jobs or QuantumFlow leaf nodes.
	nodes int
	// jobs is the number of completed jobs to expect (0: no worker).
	jobs int
	// spanFrom says where the throughput span starts.
	spanFrom string
	// workerBin: the worker is the cmd/worker binary on its default flags
	// (--worker-defaults), not a bench child.
	workerBin bool
	// setup runs before the worker starts, inside the measured window.
	setup func(ctx context.Context) error
	// during runs once the worker works (insert while working).
	during func(ctx context.Context) error
	// collect reads the shape's own measurements before the next phase
	// empties the tables.
	collect func(ctx context.Context, res *SideResult) error
}

// SideResult is one phase's measurements.
type SideResult struct {
	// Nodes is what the per-node costs divide by; Jobs the River jobs that
	// completed (QuantumFlow: the workflow's leaves).
	Nodes int `json:"nodes"`
	Jobs  int `json:"jobs"`
	// WallSeconds is the phase's wall time in the bench: setup, worker
	// start, work, worker stop.
	WallSeconds float64 `json:"wall_s"`
	// SpanSeconds runs from the first job's start (or insert) to the last
	// job's finish, from river_job's timestamps; PerSecond is Jobs over it.
	SpanSeconds float64 `json:"span_s,omitempty"`
	SpanFrom    string  `json:"span_from,omitempty"`
	PerSecond   float64 `json:"per_s,omitempty"`
	// WorkerPeakRSSBytes is the peak resident set of the worker process
	// (or of the submitting / inserting process of the submit shape).
	WorkerPeakRSSBytes int64 `json:"worker_peak_rss_bytes"`
	// CPU seconds of the phase: the worker process's (rusage), the bench's
	// own (submitting, inserting, polling), and the whole machine's busy
	// time (/proc/stat), whose remainder is PostgreSQL's and whatever else
	// runs on the machine.
	WorkerCPUSeconds  float64            `json:"worker_cpu_s"`
	BenchCPUSeconds   float64            `json:"bench_cpu_s"`
	MachineCPUSeconds float64            `json:"machine_cpu_s"`
	DB                DBCost             `json:"db"`
	Metrics           map[string]float64 `json:"metrics,omitempty"`
}

// runPhase runs p from empty tables and returns its measurements.
func (b *bench) runPhase(ctx context.Context, p phase) (*SideResult, error) {
	name := p.shape + "/" + p.label
	b.progress("%s: starting", name)
	if err := truncate(ctx, b.pool); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.seq++
	workerApp := b.app(fmt.Sprintf("w%d", b.seq))
	b.pool.Reset() // the bench's sessions exit and flush their statistics
	before, err := b.snapshot(ctx, b.app("bench"), workerApp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.childApp = workerApp
	res := &SideResult{Nodes: p.nodes, Jobs: p.jobs, Metrics: map[string]float64{}}
	start, cpu := time.Now(), startCPU()
	if p.setup != nil {
		if err := p.setup(ctx); err != nil {
			return nil, fmt.Errorf("%s: setup: %w", name, err)
		}
	}
	var polls int64
	if p.jobs > 0 {
		if polls, err = b.work(ctx, p, workerApp, res); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	res.WallSeconds = time.Since(start).Seconds()
	res.MachineCPUSeconds, res.BenchCPUSeconds = cpu.stop()
	b.pool.Reset()
	after, err := b.snapshot(ctx, b.app("bench"), workerApp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res.DB = cost(before, after, polls, p.nodes)
	if p.jobs > 0 {
		js, err := readJobStats(ctx, b.pool)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if js.completed != p.jobs {
			return nil, fmt.Errorf("%s: %d of %d jobs completed (%d jobs in all)", name, js.completed, p.jobs, js.total)
		}
		first := js.firstStart
		if p.spanFrom == fromFirstInsert {
			first = js.firstInsert
		}
		res.SpanFrom = p.spanFrom
		res.SpanSeconds = js.lastFinish.Sub(first).Seconds()
		if res.SpanSeconds > 0 {
			res.PerSecond = float64(js.completed) / res.SpanSeconds
		}
	}
	if p.collect != nil {
		if err := p.collect(ctx, res); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	b.progress("%s: %s", name, summary(res))
	return res, nil
}

// work starts the worker process, runs p.during, waits until the work is
// done and stops the worker. It returns the number of polls, and records
// the worker's peak RSS and CPU in res.
func (b *bench) work(ctx context.Context, p phase, app string, res *SideResult) (polls int64, err error) {
	var w *child
	if p.workerBin {
		w, err = startWorkerBin(b.workerBin, b.env.url, app, b.stderr)
	} else {
		w, err = startChild(childSpec{
			Role: roleWorker, Mode: p.mode, App: app,
			MaxWorkers: b.cfg.MaxWorkers, PoolMaxConns: b.cfg.PoolMaxConns, BatchMax: b.cfg.BatchMax,
			FetchCooldown: b.cfg.FetchCooldown, FetchPollInterval: b.cfg.FetchPollInterval,
		}, b.env.url, b.stderr)
	}
	if err != nil {
		return 0, err
	}
	defer w.kill()
	if _, err := w.waitEvent(ctx, "ready", childStartTimeout); err != nil {
		return 0, fmt.Errorf("worker: %w", err)
	}
	if p.during != nil {
		if err := p.during(ctx); err != nil {
			return 0, err
		}
	}
	query := riverDoneSQL
	if p.mode == modeQuantumFlow {
		query = flowDoneSQL
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-w.exited:
			return polls, fmt.Errorf("%w: %v", errChildExited, w.err)
		case <-ctx.Done():
			return polls, b.notDone(ctx, p)
		case <-t.C:
		}
		polls++
		if err := b.pool.QueryRow(ctx, query).Scan(&done); err != nil {
			if ctx.Err() != nil {
				return polls, b.notDone(ctx, p)
			}
			return polls, fmt.Errorf("poll: %w", err)
		}
	}
	if res.WorkerPeakRSSBytes, err = w.stop(); err != nil {
		return polls, fmt.Errorf("worker: %w", err)
	}
	if p.workerBin {
		// The binary does not report VmHWM, and its rusage carries the
		// bench's RSS at fork: no honest number.
		res.WorkerPeakRSSBytes = 0
	}
	res.WorkerCPUSeconds = w.cpu().Seconds()
	return polls, nil
}

// Is the phase done? Plain River: no job left to run. QuantumFlow: every
// workflow final (its jobs completed in the transactions that decided so).
const (
	riverDoneSQL = `SELECT NOT EXISTS (SELECT 1 FROM river_job
		WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled'))`
	flowDoneSQL = `SELECT NOT EXISTS (SELECT 1 FROM qf_workflow WHERE status IN ('pending', 'running'))`
)

// notDone explains a phase that ran out of time, with its progress.
func (b *bench) notDone(ctx context.Context, p phase) error {
	cause := context.Cause(ctx)
	if !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	js, err := readJobStats(qctx, b.pool)
	if err != nil {
		return fmt.Errorf("not done within --shape-timeout %s", b.cfg.ShapeTimeout)
	}
	return fmt.Errorf("not done within --shape-timeout %s: %d of %d jobs completed", b.cfg.ShapeTimeout, js.completed, p.jobs)
}

// summary is a phase's progress line.
func summary(r *SideResult) string {
	s := fmt.Sprintf("wall %.1fs", r.WallSeconds)
	if r.PerSecond > 0 {
		s += fmt.Sprintf(", %d jobs in %.2fs (%.0f/s)", r.Jobs, r.SpanSeconds, r.PerSecond)
	}
	s += fmt.Sprintf(", %.2f commits/node, %.0f WAL B/node", r.DB.CommitsPerNode, r.DB.WALBytesPerNode)
	if r.WorkerPeakRSSBytes > 0 {
		s += fmt.Sprintf(", peak RSS %.0f MB", float64(r.WorkerPeakRSSBytes)/(1<<20))
	}
	return s
}
