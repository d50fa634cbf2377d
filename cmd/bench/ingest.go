package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// bench ingest is a subcommand rather than a shape: the shapes each run the
// same work twice (River, then QuantumFlow) and compare the two, while the
// ingestion benchmark has no River side, runs the standard worker binary
// instead of the bench's child processes, and has flags of its own (the
// tree, the worker count). It shares the shapes' environment (setupEnv and
// cleanup), worker binary (buildWorkerBin, startWorkerBin) and -o.

// ingestCodebase is the codebase name of every run.
const ingestCodebase = "qfbench"

// Defaults of bench ingest.
const (
	ingestWorkersDefault = 2
	ingestRepsDefault    = 5
	ingestEditsDefault   = 3
	ingestDebounce       = 300 * time.Millisecond
	ingestRunTimeout     = 30 * time.Minute
	ingestEditTimeout    = 2 * time.Minute
)

// ingestOptions are bench ingest's flags.
type ingestOptions struct {
	databaseURL string
	root        string
	workers     int
	reps        int
	edits       int
	smoke       bool
	isolation   string
	keep        bool
	output      string
	workerBin   string
}

// ingestCmd is `bench ingest`.
func ingestCmd(args []string, stdout, stderr io.Writer) *cobra.Command {
	var o ingestOptions
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Measure code ingestion against issue 10's goals (full, unchanged, watch edit, search, index size)",
		Long: `bench ingest copies a tree (default: $(go env GOROOT)/src) to a temporary
directory, starts --workers standard worker processes (go build ./cmd/worker,
default flags, the local hashing embedder) on a fresh schema, and measures:
a full ingest (ingest.Submit, then the workflow to its end), a re-ingest of
the unchanged tree, --edits watch edits (ingest.Watch, debounce 300ms: write
→ notification → found by symbol search), search p50/p95 per mode over a
fixed query list (--reps passes, pool warm), the index size against the
stored files and the tree, and an anchor: the same per-file work in-process
without the engine (scan, validate, detect, parse, symbols, chunk, tokens,
embed on GOMAXPROCS goroutines), so that the full ingest is also reported as
a ratio to work measured in the same run. It prints a table of goal,
measured value and met/missed (or JSON with -o json), with the load average
at start and end. The schema (or database) is dropped at the end unless
--keep.`,
		Example: `  # The real thing on Go's standard library (several minutes).
  go run ./cmd/bench ingest --database-url 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'

  # A tiny run on a tree of your own, one worker, as JSON.
  go run ./cmd/bench ingest --smoke --ingest-root ./testdata/tree -o json`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.smoke {
				if !cmd.Flags().Changed("workers") {
					o.workers = 1
				}
				if !cmd.Flags().Changed("reps") {
					o.reps = 1
				}
			}
			if err := o.check(); err != nil {
				return cliutil.WithCode(cliutil.ExitUsage, err)
			}
			url, err := cliutil.DatabaseURL(o.databaseURL)
			if err != nil {
				return cliutil.WithCode(cliutil.ExitUsage, err)
			}
			o.databaseURL = url
			return runIngestBench(cmd.Context(), o, args, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (libpq form); default $DATABASE_URL")
	f.StringVar(&o.root, "ingest-root", "", "the tree to ingest (copied first); default $(go env GOROOT)/src")
	f.IntVar(&o.workers, "workers", ingestWorkersDefault, "worker processes (the standard worker binary, default flags)")
	f.IntVar(&o.reps, "reps", ingestRepsDefault, "passes over the query list per search mode")
	f.IntVar(&o.edits, "edits", ingestEditsDefault, "watch edits measured one after the other")
	f.BoolVar(&o.smoke, "smoke", false, "tiny run for tests: 1 worker and 1 search pass unless given (pass a small --ingest-root)")
	f.StringVar(&o.isolation, "isolation", isolationDatabase, "where to run: database (one of its own) or schema (in the given database)")
	f.BoolVar(&o.keep, "keep", false, "keep the benchmark database (or schema) at the end")
	f.StringVarP(&o.output, "output", "o", outText, "output: text or json")
	f.StringVar(&o.workerBin, "worker-bin", "", "the worker binary (default: go build ./cmd/worker of the module in the working directory)")
	return cmd
}

func (o *ingestOptions) check() error {
	switch {
	case o.output != outText && o.output != outJSON:
		return fmt.Errorf("-o %q: want text or json", o.output)
	case o.isolation != isolationDatabase && o.isolation != isolationSchema:
		return fmt.Errorf("--isolation %q: want %s or %s", o.isolation, isolationDatabase, isolationSchema)
	case o.workers < 1 || o.workers > 64:
		return fmt.Errorf("--workers %d: want 1 to 64", o.workers)
	case o.reps < 1 || o.reps > 1000:
		return fmt.Errorf("--reps %d: want 1 to 1000", o.reps)
	case o.edits < 1 || o.edits > 100:
		return fmt.Errorf("--edits %d: want 1 to 100", o.edits)
	}
	return nil
}

// runIngestBench runs the whole ingestion benchmark and prints its report.
func runIngestBench(ctx context.Context, o ingestOptions, args []string, stdout, stderr io.Writer) (err error) {
	rep := &IngestReport{Command: strings.Join(redactArgs(append([]string{"bench"}, args...)), " "), Smoke: o.smoke, Workers: o.workers,
		Cores: runtime.NumCPU(), LoadStart: loadAvg(), StartedAt: time.Now().UTC()}
	progress := func(format string, args ...any) { fmt.Fprintf(stderr, "bench ingest: "+format+"\n", args...) }

	if o.root == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
		if err != nil {
			return fmt.Errorf("go env GOROOT (pass --ingest-root): %w", err)
		}
		o.root = filepath.Join(strings.TrimSpace(string(out)), "src")
	}
	rep.Root = o.root
	tmp, err := os.MkdirTemp("", "qfbench-ingest-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	tree := filepath.Join(tmp, "tree")
	progress("copying %s to %s", o.root, tree)
	if err := copyTree(ctx, o.root, tree); err != nil {
		return err
	}
	if rep.TreeFiles, rep.TreeBytes, err = treeSize(tree); err != nil {
		return err
	}
	editFile, err := pickEditFile(tree)
	if err != nil {
		return err
	}

	bin := o.workerBin
	if bin == "" {
		progress("building ./cmd/worker")
		if bin, err = buildWorkerBin(ctx, tmp); err != nil {
			return err
		}
	}
	e, err := setupEnv(ctx, &config{DatabaseURL: o.databaseURL, Isolation: o.isolation, Keep: o.keep}, stderr)
	if err != nil {
		return err
	}
	rep.Isolation = e.note
	defer func() {
		if cerr := e.cleanup(stderr); cerr != nil && err == nil {
			err = cerr
		}
	}()
	pool, err := e.openPool(ctx, 8, e.schema+".bench")
	if err != nil {
		return err
	}
	defer pool.Close()
	if rep.TLS, err = usesTLS(ctx, pool); err != nil {
		return err
	}
	client, err := flow.NewClient(pool, &flow.Config{Logger: quietLogger()})
	if err != nil {
		return fmt.Errorf("flow client: %w", err)
	}

	var workers []*child
	defer func() {
		for _, w := range workers {
			w.kill()
		}
	}()
	for i := range o.workers {
		w, err := startWorkerBin(bin, e.url, fmt.Sprintf("%s.worker%d", e.schema, i), stderr)
		if err != nil {
			return err
		}
		workers = append(workers, w)
		if _, err := w.waitEvent(ctx, "ready", time.Minute); err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
	}

	opts := ingest.Options{Path: tree, Codebase: ingestCodebase}
	progress("full ingest with %d worker(s)", o.workers)
	if rep.Full, err = ingestOnce(ctx, client, opts); err != nil {
		return fmt.Errorf("full ingest: %w", err)
	}
	progress("full ingest: %.1f s, %d nodes", rep.Full.WallSeconds, rep.Full.Nodes)
	if rep.Unchanged, err = ingestOnce(ctx, client, opts); err != nil {
		return fmt.Errorf("unchanged re-ingest: %w", err)
	}
	progress("unchanged re-ingest: %.2f s, %d nodes", rep.Unchanged.WallSeconds, rep.Unchanged.Nodes)

	progress("watch: %d edit(s) of %s", o.edits, editFile)
	if rep.Edits, err = watchEdits(ctx, client, tree, editFile, o.edits); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	progress("search: %d pass(es) per mode", o.reps)
	if rep.Search, err = searchLatencies(ctx, pool, o.reps); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if rep.Index, err = indexSize(ctx, pool); err != nil {
		return fmt.Errorf("index size: %w", err)
	}
	for _, w := range workers {
		if _, err := w.stop(); err != nil {
			progress("worker stop: %v", err)
		}
	}
	workers = nil

	progress("anchor: the same per-file work in-process on %d goroutines", runtime.GOMAXPROCS(0))
	if rep.Anchor, err = bareWork(ctx, tree); err != nil {
		return fmt.Errorf("anchor: %w", err)
	}
	rep.LoadEnd = loadAvg()
	rep.finish()
	if o.output == outJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.writeText(stdout)
	return nil
}

// IngestRun is one measured ingest run.
type IngestRun struct {
	RunID       string            `json:"run_id"`
	Status      string            `json:"status"`
	WallSeconds float64           `json:"wall_s"` // qf_workflow created_at → finished_at
	Nodes       int               `json:"nodes"`
	Files       ingest.FileCounts `json:"files"`
}

// ingestOnce submits a run and waits for its workflow to end.
func ingestOnce(ctx context.Context, c *flow.Client, opts ingest.Options) (*IngestRun, error) {
	ctx, cancel := context.WithTimeout(ctx, ingestRunTimeout)
	defer cancel()
	run, err := ingest.Submit(ctx, c, opts)
	if err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	out := &IngestRun{RunID: run.ID}
	scanned, err := ingest.WaitScan(ctx, c, run.ID, 50*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("run %s: wait for the scan: %w", run.ID, err)
	}
	out.Files = scanned.Files
	if err := waitWorkflow(ctx, c, out); err != nil {
		return nil, err
	}
	if out.Status != "completed" {
		return out, fmt.Errorf("run %s ended %s", run.ID, out.Status)
	}
	return out, nil
}

// waitWorkflow polls the run's workflow until it is final, then fills in
// its status, wall time (the database's timestamps) and node count.
func waitWorkflow(ctx context.Context, c *flow.Client, r *IngestRun) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		var status string
		var wall *float64
		err := c.Pool().QueryRow(ctx,
			`SELECT status, extract(epoch FROM finished_at - created_at)::float8 FROM qf_workflow WHERE id = $1`,
			r.RunID).Scan(&status, &wall)
		if err != nil {
			return fmt.Errorf("run %s: workflow status: %w", r.RunID, err)
		}
		if wall != nil && (status == "completed" || status == "failed" || status == "cancelled") {
			r.Status, r.WallSeconds = status, *wall
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("run %s: waiting for the workflow (%s): %w", r.RunID, status, context.Cause(ctx))
		case <-t.C:
		}
	}
	var err error
	r.Nodes, err = nodeCount(ctx, c, r.RunID)
	return err
}

func nodeCount(ctx context.Context, c *flow.Client, runID string) (int, error) {
	var n int
	if err := c.Pool().QueryRow(ctx, `SELECT count(*) FROM qf_node WHERE workflow_id = $1`, runID).Scan(&n); err != nil {
		return 0, fmt.Errorf("run %s: count nodes: %w", runID, err)
	}
	return n, nil
}

// copyTree copies src to dst (which must not exist) with cp -R.
func copyTree(ctx context.Context, src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("--ingest-root: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--ingest-root %s: not a directory", src)
	}
	if b, err := exec.CommandContext(ctx, "cp", "-R", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s to %s: %v: %s", src, dst, err, b)
	}
	return nil
}

// treeSize counts the regular files of root and their bytes.
func treeSize(root string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files++
		bytes += fi.Size()
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("size of %s: %w", root, err)
	}
	return files, bytes, nil
}

// pickEditFile is the file the watch edits append to: strings/strings.go
// in a GOROOT copy, else the first non-test .go file of the tree.
func pickEditFile(root string) (string, error) {
	if p := filepath.Join(root, "strings", "strings.go"); fileExists(p) {
		return p, nil
	}
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") &&
			!strings.Contains(p, string(filepath.Separator)+"testdata"+string(filepath.Separator)) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find a .go file to edit in %s: %w", root, err)
	}
	if len(found) == 0 {
		return "", fmt.Errorf("no .go file to edit in %s", root)
	}
	sort.Strings(found)
	return found[0], nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// errWatchEnded is returned when Watch stops before the edits are done.
var errWatchEnded = errors.New("watch ended")

// usesTLS reports whether pool's connections are encrypted: the workers
// connect with the same URL. pgx's default sslmode (prefer) encrypts
// whenever the server offers TLS, and on this machine's loopback that
// cost 15 % of the full ingest (docs/BENCHMARKS.md).
func usesTLS(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("acquire a connection: %w", err)
	}
	defer conn.Release()
	_, ok := conn.Conn().PgConn().Conn().(*tls.Conn)
	return ok, nil
}
