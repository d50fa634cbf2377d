package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/internal/syncio"
)

// The shapes, in the order they run.
var allShapes = []string{"chain", "wide", "fanin", "tree", "many", "submit"}

// Default sizes (issue 4) at --scale 1.
const (
	chainHopsDefault       = 1000
	wideNDefault           = 100_000
	wideSmallNDefault      = 10_000
	faninNDefault          = 10_000
	manyWorkflowsDefault   = 2000
	manyConcurrencyDefault = 8
	submitNDefault         = 100_000
	treeDefault            = "10x10x100"

	maxWorkersDefault        = 1000
	poolMaxConnsDefault      = 40
	fetchCooldownDefault     = time.Millisecond
	fetchPollIntervalDefault = 100 * time.Millisecond
	shapeTimeoutDefault      = 15 * time.Minute

	// --smoke: sizes at this scale, and small pools (tests share the
	// server's max_connections).
	smokeScale        = 0.01
	smokeMaxWorkers   = 50
	smokePoolMaxConns = 8
	smokeShapeTimeout = 2 * time.Minute
)

// Output formats of -o.
const (
	outText = "text"
	outJSON = "json"
)

// errInterrupted is the cause of the run's context after SIGINT or SIGTERM.
var errInterrupted = cliutil.ErrInterrupted

// options are the flags as given.
type options struct {
	databaseURL       string
	shapes            []string
	scale             float64
	smoke             bool
	chainHops         int
	wideN             int
	wideSmallN        int
	faninN            int
	tree              string
	manyWorkflows     int
	manyConcurrency   int
	submitN           int
	maxWorkers        int
	poolMaxConns      int
	batchMax          int
	fetchCooldown     time.Duration
	fetchPollInterval time.Duration
	shapeTimeout      time.Duration
	isolation         string
	keep              bool
	enqueueBin        string
	output            string
	workerDefaults    bool
	workerBin         string
}

// config is a validated run configuration: every size resolved.
type config struct {
	DatabaseURL       string        `json:"-"`
	Shapes            []string      `json:"shapes"`
	Scale             float64       `json:"scale"`
	Smoke             bool          `json:"smoke"`
	ChainHops         int           `json:"chain_hops"`
	WideN             int           `json:"wide_n"`
	WideSmallN        int           `json:"wide_small_n"`
	FaninN            int           `json:"fanin_n"`
	Tree              [3]int        `json:"tree"`
	ManyWorkflows     int           `json:"many_workflows"`
	ManyConcurrency   int           `json:"many_concurrency"`
	SubmitN           int           `json:"submit_n"`
	MaxWorkers        int           `json:"max_workers"`
	PoolMaxConns      int           `json:"pool_max_conns"`
	BatchMax          int           `json:"completion_batch_max"`
	FetchCooldown     time.Duration `json:"fetch_cooldown_ns"`
	FetchPollInterval time.Duration `json:"fetch_poll_interval_ns"`
	ShapeTimeout      time.Duration `json:"shape_timeout_ns"`
	Isolation         string        `json:"isolation"`
	Keep              bool          `json:"keep"`
	EnqueueBin        string        `json:"enqueue_bin,omitempty"`
	Output            string        `json:"-"`
	// WorkerDefaults adds wide's phase of the cmd/worker binary on its
	// default flags; WorkerBin is that binary ("" builds ./cmd/worker).
	WorkerDefaults bool   `json:"worker_defaults,omitempty"`
	WorkerBin      string `json:"worker_bin,omitempty"`
}

// run executes the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	// Progress lines, child processes' logs and errors share stderr.
	stderr = &syncio.Writer{W: stderr}
	ctx, stop := cliutil.InterruptContext(func() {
		fmt.Fprintln(stderr, "bench: interrupted; stopping the workers and dropping the benchmark database")
	})
	defer stop()
	do := func(ctx context.Context, cfg *config) error { return runBench(ctx, cfg, args, stdout, stderr) }
	err := rootCmd(args, stdout, stderr, do).ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", cliutil.Redact(err.Error()))
	}
	return cliutil.CodeOf(err)
}

// rootCmd parses args and calls do with the resolved configuration.
func rootCmd(args []string, stdout, stderr io.Writer, do func(context.Context, *config) error) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure QuantumFlow against plain River on the same work",
		Long: `bench runs each shape twice against one PostgreSQL, first with plain River
(no-op jobs, River's own bulk insert) and then with QuantumFlow, with the same
River client settings, and prints both and their ratio (QuantumFlow ÷ River).

It creates a database of its own (qfbench_<random>; --isolation schema uses
a schema in the given database instead), migrates it, runs every phase's
workers as child processes of itself, and drops the database at the end
(unless --keep), also after Ctrl-C.

Shapes: chain (hop latency), wide (1 → N → 1, nodes/s and worker memory at
N and --wide-small-n), fanin (N → 1, join delay), tree (groups of groups of
leaves, nodes/s), many (small diamond workflows submitted concurrently while
the workers run), submit (time and peak RSS to submit an N-node DAG). Every
shape also reports commits, rows and WAL bytes per node.

'bench ingest' is the code-ingestion benchmark (issue 10's goal table on
Go's standard library); see 'bench ingest --help'.`,
		Example: `  # The full benchmark (several minutes), as a table.
  go run ./cmd/bench --database-url postgres://postgres@127.0.0.1:5432/postgres

  # A quick run of two shapes at a tenth of the sizes, as JSON.
  go run ./cmd/bench --shapes chain,wide --scale 0.1 -o json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cliutil.WithCode(cliutil.ExitUsage, fmt.Errorf("unknown command or argument %q: bench takes flags only", args[0]))
			}
			return nil
		},
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := resolve(cmd.Flags(), o)
			if err != nil {
				return cliutil.WithCode(cliutil.ExitUsage, err)
			}
			return do(cmd.Context(), cfg)
		},
	}
	cmd.AddCommand(ingestCmd(args, stdout, stderr))
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cliutil.WithCode(cliutil.ExitUsage, err)
	})
	f := cmd.Flags()
	f.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (libpq form); default $DATABASE_URL")
	f.StringSliceVar(&o.shapes, "shapes", allShapes, "shapes to run: "+strings.Join(allShapes, ","))
	f.Float64Var(&o.scale, "scale", 1, "multiply every default size by this factor (sizes given by flag are kept)")
	f.BoolVar(&o.smoke, "smoke", false, fmt.Sprintf("tiny run for tests: --scale %g, --max-workers %d, --pool-max-conns %d unless given", smokeScale, smokeMaxWorkers, smokePoolMaxConns))
	f.IntVar(&o.chainHops, "chain-hops", chainHopsDefault, "chain: hops")
	f.IntVar(&o.wideN, "wide-n", wideNDefault, "wide: N of 1 → N → 1")
	f.IntVar(&o.wideSmallN, "wide-small-n", wideSmallNDefault, "wide: the smaller N whose worker peak RSS is compared with N's; 0 skips")
	f.IntVar(&o.faninN, "fanin-n", faninNDefault, "fanin: parents of the join")
	f.StringVar(&o.tree, "tree", treeDefault, "tree: groups x subgroups x leaves")
	f.IntVar(&o.manyWorkflows, "many-workflows", manyWorkflowsDefault, "many: diamond workflows (4 nodes each)")
	f.IntVar(&o.manyConcurrency, "many-concurrency", manyConcurrencyDefault, "many: goroutines submitting (and, for River, inserting)")
	f.IntVar(&o.submitN, "submit-n", submitNDefault, "submit: nodes of the submitted DAG (1 → N-2 → 1)")
	f.IntVar(&o.maxWorkers, "max-workers", maxWorkersDefault, "River MaxWorkers of the default queue, both sides")
	f.IntVar(&o.poolMaxConns, "pool-max-conns", poolMaxConnsDefault, "database connections of each worker process, both sides")
	f.IntVar(&o.batchMax, "completion-batch-max", 0, "QuantumFlow's flow.Config.CompletionBatchMax: nodes per completion transaction (1: one transaction per node; 0: flow's default)")
	f.DurationVar(&o.fetchCooldown, "fetch-cooldown", fetchCooldownDefault, "River FetchCooldown, both sides")
	f.DurationVar(&o.fetchPollInterval, "fetch-poll-interval", fetchPollIntervalDefault, "River FetchPollInterval, both sides")
	f.DurationVar(&o.shapeTimeout, "shape-timeout", shapeTimeoutDefault, "give up a shape after this long (its phases together)")
	f.StringVar(&o.isolation, "isolation", isolationDatabase, "where to run: database (a database of its own, so pg_stat_database counts only the benchmark) or schema (a schema in the given database)")
	f.BoolVar(&o.keep, "keep", false, "keep the benchmark database (or schema) at the end")
	f.StringVar(&o.enqueueBin, "enqueue-bin", "", "submit: measure this enqueue binary ('enqueue submit FILE') instead of the same code path inside bench")
	f.StringVarP(&o.output, "output", "o", outText, "output: text or json")
	f.BoolVar(&o.workerDefaults, "worker-defaults", false, "wide: also run the real worker binary with no tuning flags (its defaults) and compare it with the tuned configuration")
	f.StringVar(&o.workerBin, "worker-bin", "", "--worker-defaults: this worker binary (default: go build ./cmd/worker of the module in the working directory)")
	return cmd
}

// resolve validates the flags and applies --scale and --smoke to the sizes
// that were not given explicitly.
func resolve(fs *pflag.FlagSet, o options) (*config, error) {
	url, err := cliutil.DatabaseURL(o.databaseURL)
	if err != nil {
		return nil, err
	}
	if o.output != outText && o.output != outJSON {
		return nil, fmt.Errorf("-o %q: want text or json", o.output)
	}
	if o.isolation != isolationDatabase && o.isolation != isolationSchema {
		return nil, fmt.Errorf("--isolation %q: want %s or %s", o.isolation, isolationDatabase, isolationSchema)
	}
	var shapes []string
	for _, s := range o.shapes {
		s = strings.TrimSpace(s)
		if !slices.Contains(allShapes, s) {
			return nil, fmt.Errorf("--shapes: unknown shape %q (want some of %s)", s, strings.Join(allShapes, ","))
		}
		if !slices.Contains(shapes, s) {
			shapes = append(shapes, s)
		}
	}
	if len(shapes) == 0 {
		return nil, errors.New("--shapes: no shape given")
	}
	// Run them in the canonical order whatever the order given.
	slices.SortFunc(shapes, func(a, b string) int { return slices.Index(allShapes, a) - slices.Index(allShapes, b) })

	scale := o.scale
	if o.smoke && !fs.Changed("scale") {
		scale = smokeScale
	}
	if scale <= 0 || scale > 100 {
		return nil, fmt.Errorf("--scale %g: want a factor in (0, 100]", scale)
	}
	size := func(name string, v, least int) (int, error) {
		if !fs.Changed(name) {
			v = max(least, int(math.Round(float64(v)*scale)))
		}
		if v < least {
			return 0, fmt.Errorf("--%s %d: want at least %d", name, v, least)
		}
		return v, nil
	}
	cfg := &config{
		DatabaseURL: url, Shapes: shapes, Scale: scale, Smoke: o.smoke,
		ManyConcurrency: o.manyConcurrency, MaxWorkers: o.maxWorkers, PoolMaxConns: o.poolMaxConns, BatchMax: o.batchMax,
		FetchCooldown: o.fetchCooldown, FetchPollInterval: o.fetchPollInterval, ShapeTimeout: o.shapeTimeout,
		Isolation: o.isolation, Keep: o.keep, EnqueueBin: o.enqueueBin, Output: o.output,
		WorkerDefaults: o.workerDefaults || o.workerBin != "", WorkerBin: o.workerBin,
	}
	for _, s := range []struct {
		name      string
		v, least  int
		dst       *int
		allowZero bool
	}{
		{"chain-hops", o.chainHops, 2, &cfg.ChainHops, false},
		{"wide-n", o.wideN, 1, &cfg.WideN, false},
		{"wide-small-n", o.wideSmallN, 1, &cfg.WideSmallN, true},
		{"fanin-n", o.faninN, 1, &cfg.FaninN, false},
		{"many-workflows", o.manyWorkflows, 1, &cfg.ManyWorkflows, false},
		{"submit-n", o.submitN, 3, &cfg.SubmitN, false},
	} {
		if s.allowZero && s.v == 0 {
			continue
		}
		if *s.dst, err = size(s.name, s.v, s.least); err != nil {
			return nil, err
		}
	}
	if cfg.Tree, err = parseTree(o.tree, scale, fs.Changed("tree")); err != nil {
		return nil, err
	}
	if o.smoke {
		if !fs.Changed("max-workers") {
			cfg.MaxWorkers = smokeMaxWorkers
		}
		if !fs.Changed("pool-max-conns") {
			cfg.PoolMaxConns = smokePoolMaxConns
		}
		if !fs.Changed("shape-timeout") {
			cfg.ShapeTimeout = smokeShapeTimeout
		}
	}
	switch {
	case cfg.MaxWorkers < 1 || cfg.MaxWorkers > 10_000:
		return nil, fmt.Errorf("--max-workers %d: want 1 to 10000", cfg.MaxWorkers)
	case cfg.BatchMax < 0:
		return nil, fmt.Errorf("--completion-batch-max %d: want 0 (the default) or more", cfg.BatchMax)
	case cfg.PoolMaxConns < 4:
		return nil, fmt.Errorf("--pool-max-conns %d: want at least 4 (River's listener keeps one)", cfg.PoolMaxConns)
	case cfg.ManyConcurrency < 1 || cfg.ManyConcurrency > 64:
		return nil, fmt.Errorf("--many-concurrency %d: want 1 to 64", cfg.ManyConcurrency)
	case cfg.FetchCooldown < time.Millisecond:
		return nil, fmt.Errorf("--fetch-cooldown %s: River's minimum is 1ms", cfg.FetchCooldown)
	case cfg.FetchPollInterval < cfg.FetchCooldown:
		return nil, fmt.Errorf("--fetch-poll-interval %s: must not be shorter than --fetch-cooldown %s", cfg.FetchPollInterval, cfg.FetchCooldown)
	case cfg.ShapeTimeout <= 0:
		return nil, fmt.Errorf("--shape-timeout %s: must be positive", cfg.ShapeTimeout)
	}
	return cfg, nil
}

// parseTree parses AxBxC; unless given explicitly, the leaves per group
// (C) are scaled.
func parseTree(s string, scale float64, explicit bool) ([3]int, error) {
	var t [3]int
	parts := strings.Split(s, "x")
	if len(parts) != 3 {
		return t, fmt.Errorf("--tree %q: want groups x subgroups x leaves, such as %s", s, treeDefault)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return t, fmt.Errorf("--tree %q: %q is not a positive number", s, p)
		}
		t[i] = n
	}
	if !explicit {
		t[2] = max(1, int(math.Round(float64(t[2])*scale)))
	}
	return t, nil
}
