package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// bench is one run: its configuration, environment and the bench's own
// clients (submitting and inserting; the workers are child processes).
type bench struct {
	cfg    *config
	env    *env
	pool   *pgxpool.Pool
	flow   *flow.Client
	insert *river.Client[pgx.Tx]
	stderr io.Writer
	tmp    string // folder for spec files
	// workerBin is the cmd/worker binary of --worker-defaults.
	workerBin string
	seq       int // phases started, for application names
	// childApp is the application name of the current phase's children.
	childApp string
}

// shapeFuncs run one shape each.
var shapeFuncs = map[string]func(context.Context, *bench, *ShapeResult) error{
	"chain":  shapeChain,
	"wide":   shapeWide,
	"fanin":  shapeFanin,
	"tree":   shapeTree,
	"many":   shapeMany,
	"submit": shapeSubmit,
}

// runBench runs every selected shape and prints the report.
func runBench(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) (err error) {
	started := time.Now()
	rep := &Report{
		Date:    started.UTC(),
		Command: redactArgs(append([]string{"bench"}, args...)),
		Machine: machineInfo(),
		Config:  cfg,
		Notes: []string{
			"ratio is QuantumFlow ÷ River; n/a: River has no counterpart",
			"timings from river_job timestamps (attempted_at, finalized_at, created_at); nodes/s and jobs/s count jobs over first start (many: first insert) to last finish",
			"per-node costs divide pg_stat_database deltas of the benchmark's database (bench polls subtracted) and the server's WAL bytes by the jobs (River) or leaf nodes (QuantumFlow)",
			"workers are child processes, one per phase; peak RSS is the process's VmHWM (/proc/self/status) read just before it exits",
		},
	}
	e, err := setupEnv(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := e.cleanup(stderr); cerr != nil {
			fmt.Fprintln(stderr, "bench:", cliutil.Redact(cerr.Error()))
			err = errors.Join(err, cerr)
		}
	}()
	rep.Isolation, rep.Database, rep.Schema = e.note, e.database, e.schema
	tmp, err := os.MkdirTemp("", "qfbench-")
	if err != nil {
		return fmt.Errorf("temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)

	b := &bench{cfg: cfg, env: e, stderr: stderr, tmp: tmp, workerBin: cfg.WorkerBin}
	if cfg.WorkerDefaults && b.workerBin == "" && slices.Contains(cfg.Shapes, "wide") {
		if b.workerBin, err = buildWorkerBin(ctx, tmp); err != nil {
			return err
		}
	}
	if b.pool, err = e.openPool(ctx, cfg.ManyConcurrency+2, b.app("bench")); err != nil {
		return err
	}
	defer b.pool.Close()
	if b.flow, err = flow.NewClient(b.pool, &flow.Config{Logger: quietLogger()}); err != nil {
		return err
	}
	if b.insert, err = newInsertClient(b.pool); err != nil {
		return err
	}
	if rep.Postgres, err = postgresInfo(ctx, b.pool, cfg.DatabaseURL); err != nil {
		return err
	}

	for _, name := range cfg.Shapes {
		if ctx.Err() != nil {
			break
		}
		s := &ShapeResult{Name: name, Params: map[string]int{}}
		rep.Shapes = append(rep.Shapes, s)
		shapeCtx, cancel := context.WithTimeout(ctx, cfg.ShapeTimeout)
		shapeStart := time.Now()
		serr := shapeFuncs[name](shapeCtx, b, s)
		cancel()
		s.WallSeconds = time.Since(shapeStart).Seconds()
		if serr != nil {
			if ctx.Err() != nil {
				serr = fmt.Errorf("%s: %w", name, context.Cause(ctx))
			}
			s.Error = serr.Error()
			rep.FailedCount++
			fmt.Fprintln(stderr, "bench:", cliutil.Redact(serr.Error()))
		}
	}
	rep.DurationS = time.Since(started).Seconds()
	rep.Machine.LoadAvgEnd = loadAvg()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if cfg.Output == outJSON {
		if err := rep.writeJSON(stdout); err != nil {
			return err
		}
		// The table too, for the person watching.
		_ = rep.writeText(stderr)
	} else if err := rep.writeText(stdout); err != nil {
		return err
	}
	if rep.FailedCount > 0 {
		return fmt.Errorf("%d of %d shapes failed", rep.FailedCount, len(rep.Shapes))
	}
	return nil
}

// app is an application name unique to this run, so that a snapshot waits
// only for this run's sessions.
func (b *bench) app(suffix string) string { return b.env.schema + "-" + suffix }

// progress writes a progress line on stderr.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.stderr, "bench: "+format+"\n", args...)
}

// redactArgs hides passwords in database URLs given as flags.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = cliutil.Redact(a)
	}
	return out
}
