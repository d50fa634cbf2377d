package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/ingest/scan"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
)

// Errors of Submit for bad options; each is wrapped with the value at
// fault. ErrNotExist and ErrNotDir are the scan's, so errors.Is works on
// either.
var (
	ErrNotExist        = scan.ErrNotExist
	ErrNotDir          = scan.ErrNotDir
	ErrInvalidCodebase = errors.New("invalid codebase name")
	ErrInvalidPriority = errors.New("invalid priority")
	ErrInvalidExclude  = errors.New("invalid exclude pattern")
)

// ActiveRunError is returned by Submit when the codebase has a run that is
// not final yet: one run per codebase at a time, so two runs never store
// the same files at once. Wait for it (its notification, or flow's
// Progress) and submit again.
type ActiveRunError struct {
	Codebase string
	RunID    string
	Status   string
}

func (e *ActiveRunError) Error() string {
	return fmt.Sprintf("codebase %s has an ingest run in progress: workflow %s is %s (wait for it with 'enqueue wait %s')",
		e.Codebase, e.RunID, e.Status, e.RunID)
}

// Is makes errors.Is(err, ErrRunActive) true.
func (e *ActiveRunError) Is(target error) bool { return target == ErrRunActive }

// ErrRunActive matches an *ActiveRunError.
var ErrRunActive = errors.New("an ingest run of the codebase is in progress")

// Run is a submitted ingest run.
type Run struct {
	// ID is the run's workflow id.
	ID string
	// Codebase is the codebase's name.
	Codebase string
	// Root is the absolute path that is ingested.
	Root string
}

var codebaseRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// priorities are the River priority names a run may use.
var priorities = map[string]bool{"realtime": true, "high": true, "normal": true, "bulk": true}

// DefaultPriority is the priority of a run whose Options give none.
const DefaultPriority = "bulk"

// CheckOptions validates opts without a database and returns them
// completed: Path absolute and clean, Codebase and Priority filled in.
// Errors wrap ErrNotExist, ErrNotDir, ErrInvalidCodebase,
// ErrInvalidPriority or ErrInvalidExclude and name the value.
func CheckOptions(opts Options) (Options, error) {
	if opts.Path == "" {
		return opts, fmt.Errorf("path: %w (empty)", ErrNotExist)
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return opts, fmt.Errorf("path %s: %w", opts.Path, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return opts, fmt.Errorf("path %s %w", opts.Path, ErrNotExist)
	case err != nil:
		return opts, fmt.Errorf("path %s: %w", opts.Path, err)
	case !fi.IsDir():
		return opts, fmt.Errorf("path %s %w", opts.Path, ErrNotDir)
	}
	opts.Path = abs
	if opts.Codebase == "" {
		opts.Codebase = filepath.Base(abs)
	}
	if !codebaseRE.MatchString(opts.Codebase) {
		return opts, fmt.Errorf("%w %q: use 1 to 128 letters, digits, '_', '.' and '-'", ErrInvalidCodebase, opts.Codebase)
	}
	if opts.Priority == "" {
		opts.Priority = DefaultPriority
	}
	if !priorities[opts.Priority] {
		return opts, fmt.Errorf("%w %q: want realtime, high, normal or bulk", ErrInvalidPriority, opts.Priority)
	}
	for _, ex := range opts.Excludes {
		if strings.TrimSpace(ex) == "" || strings.ContainsAny(ex, "\n\x00") {
			return opts, fmt.Errorf("%w %q", ErrInvalidExclude, ex)
		}
	}
	if opts.MaxAttempts < 0 || opts.MaxAttempts > 32767 {
		return opts, fmt.Errorf("max attempts %d: want 1 to 32767, or 0 for the default", opts.MaxAttempts)
	}
	return opts, nil
}

// WorkflowName is the name of the workflows that ingest codebase:
// "ingest-<codebase>", cut to the 128 characters a name may have.
func WorkflowName(codebase string) string {
	name := "ingest-" + codebase
	if len(name) > 128 {
		name = name[:128]
	}
	return name
}

// Submit validates opts (CheckOptions: the path exists and is a directory,
// the codebase name is valid, ...) and submits an ingest run as one
// workflow through c: a scan node that expands into the per-file steps,
// then code_graph_building and completion_notification. In the same
// transaction it creates the codebase (or updates its root) and checks that
// the codebase has no run in progress (an *ActiveRunError otherwise).
// Nothing is written when it returns an error. The kinds must have been
// registered by a worker (the standard worker registers them).
func Submit(ctx context.Context, c *flow.Client, opts Options) (*Run, error) {
	opts, err := CheckOptions(opts)
	if err != nil {
		return nil, err
	}
	tx, err := c.Pool().Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", opts.Codebase, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	run, err := SubmitTx(ctx, c, tx, opts)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("ingest %s: commit: %w", opts.Codebase, err)
	}
	return run, nil
}

// SubmitTx is Submit in the caller's transaction: the run exists (and its
// scan can start) once the caller commits.
func SubmitTx(ctx context.Context, c *flow.Client, tx pgx.Tx, opts Options) (*Run, error) {
	opts, err := CheckOptions(opts)
	if err != nil {
		return nil, err
	}
	name := WorkflowName(opts.Codebase)
	// One run per codebase: the lock serialises concurrent submitters of
	// the same codebase until their transactions end.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('quantumflow.ingest.' || $1))`, opts.Codebase); err != nil {
		return nil, fmt.Errorf("ingest %s: lock: %w", opts.Codebase, err)
	}
	var activeID, activeStatus string
	err = tx.QueryRow(ctx, `
SELECT id::text, status FROM qf_workflow
WHERE name = $1 AND status IN ('pending', 'running') AND input->>'codebase' = $2
ORDER BY created_at LIMIT 1`, name, opts.Codebase).Scan(&activeID, &activeStatus)
	switch {
	case err == nil:
		return nil, &ActiveRunError{Codebase: opts.Codebase, RunID: activeID, Status: activeStatus}
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("ingest %s: active runs: %w", opts.Codebase, err)
	}
	codebaseID, err := store.UpsertCodebaseTx(ctx, tx, opts.Codebase, opts.Path)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", opts.Codebase, err)
	}
	spec, err := runSpec(opts, codebaseID, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	res, err := c.SubmitTx(ctx, tx, spec, nil)
	if err != nil {
		if errors.Is(err, dag.ErrUnknownKind) {
			return nil, fmt.Errorf("ingest %s: %w (no worker with the ingestion kinds has started against this database: start 'worker', whose --ingest is on by default)", opts.Codebase, err)
		}
		return nil, fmt.Errorf("ingest %s: %w", opts.Codebase, err)
	}
	return &Run{ID: res.ID, Codebase: opts.Codebase, Root: opts.Path}, nil
}

// RunNodeTimeout bounds one attempt of the scan and of
// code_graph_building, which work on the whole codebase.
const RunNodeTimeout = dag.Duration(15 * time.Minute)

// runSpec is the workflow of a run.
func runSpec(opts Options, codebaseID int64, now time.Time) (*dag.Spec, error) {
	input, err := json.Marshal(RunInput{
		Codebase: opts.Codebase, CodebaseID: codebaseID, Root: opts.Path, Excludes: opts.Excludes,
		Priority: opts.Priority, MaxAttempts: opts.MaxAttempts, SubmittedAt: now,
	})
	if err != nil {
		return nil, fmt.Errorf("ingest %s: input: %w", opts.Codebase, err)
	}
	return &dag.Spec{
		Name:     WorkflowName(opts.Codebase),
		Input:    input,
		Defaults: dag.Defaults{Settings: dag.Settings{Priority: opts.Priority, MaxAttempts: opts.MaxAttempts}},
		Nodes: []dag.Node{
			// The scan and the graph work on the whole codebase: they get
			// longer than the worker's job timeout (1m by default).
			{ID: NodeScan, Kind: KindScan, Settings: dag.Settings{Timeout: RunNodeTimeout}},
			// Both run-level nodes run when a file failed for good, so the
			// graph is built from what was stored and the notification
			// says what failed.
			{ID: NodeCodeGraphBuilding, Kind: KindCodeGraphBuilding, Deps: []string{NodeScan}, OnDepFailure: "run",
				Settings: dag.Settings{Timeout: RunNodeTimeout}},
			{ID: NodeCompletionNotification, Kind: KindCompletionNotification, Deps: []string{NodeCodeGraphBuilding}, OnDepFailure: "run"},
		},
	}, nil
}
