package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

type ingestFlags struct {
	codebase     string
	wait         bool
	priority     string
	excludes     []string
	output       string
	pollInterval time.Duration
}

func (a *app) ingestCmd() *cobra.Command {
	var f ingestFlags
	cmd := &cobra.Command{
		Use:   "ingest PATH",
		Short: "Ingest a codebase: scan it and store, index and rank what changed",
		Long: `Ingest submits one workflow, ingest-<codebase>, that scans the directory PATH
and expands into a sub-DAG of steps for each file that is new or changed since
the last ingest of the codebase (by content hash), and a removal for each file
that is gone; unchanged files cost nothing. docs/INGESTION.md has the design.

Workers read PATH, so it must be the same path on their machines. The
codebase is named by --codebase, by default the base name of PATH. One run
per codebase at a time: while one is in progress, ingest refuses (exit 1),
naming it.

Ingest waits for the scan and prints the workflow id on stdout and the file
counts on stderr; -o json prints {"id", "codebase", "files": {"new",
"changed", "removed", "unchanged", "skipped"}} instead. --wait follows the
run to the end (a progress bar on a terminal, else a line every 2 s) and
exits 0 only if it completed, 4 if a step failed for good; with -o json the
object then also has "status".`,
		Example: `  # Ingest a checkout and follow it to the end.
  enqueue ingest --wait ~/src/myproject

  # A second codebase from the same tree, without its testdata.
  enqueue ingest --codebase myproject-lib --exclude 'testdata/' --exclude '*_test.go' ~/src/myproject

  # Machine-readable counts.
  enqueue ingest -o json ~/src/myproject | jq .files`,
		Args: argsNamed("PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, f.output); err != nil {
				return err
			}
			if f.pollInterval <= 0 {
				return usageErr(cmd, "--poll-interval must be positive (got %s)", f.pollInterval)
			}
			return a.ingest(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.codebase, "codebase", "", "the codebase's name, 1 to 128 letters, digits, '_', '.' and '-' (default: the base name of PATH)")
	fl.BoolVar(&f.wait, "wait", false, "follow the run to the end; exit 4 if a step failed for good")
	fl.StringVar(&f.priority, "priority", ingest.DefaultPriority, "priority of the run's nodes: realtime, high, normal or bulk")
	fl.StringArrayVar(&f.excludes, "exclude", nil, "a gitignore-style pattern, relative to PATH, of files not to ingest (repeatable)")
	addOutputFlag(cmd, &f.output)
	fl.DurationVar(&f.pollInterval, "poll-interval", pollIntervalDefault, "how often to read the run's progress")
	return cmd
}

// ingestOutput is ingest's -o json object.
type ingestOutput struct {
	ID       string            `json:"id"`
	Codebase string            `json:"codebase"`
	Files    ingest.FileCounts `json:"files"`
	Status   string            `json:"status,omitempty"`
}

func (a *app) ingest(cmd *cobra.Command, path string, f ingestFlags) error {
	ctx := cmd.Context()
	// Usage problems first: nothing is read or written without them right.
	opts, err := ingest.CheckOptions(ingest.Options{Path: path, Codebase: f.codebase, Priority: f.priority, Excludes: f.excludes})
	switch {
	case errors.Is(err, ingest.ErrInvalidPriority):
		return usageErr(cmd, "--priority: %s", err)
	case errors.Is(err, ingest.ErrInvalidCodebase) && f.codebase == "":
		return usageErr(cmd, "%s (the base name of PATH; name the codebase with --codebase)", err)
	case errors.Is(err, ingest.ErrInvalidCodebase):
		return usageErr(cmd, "--codebase: %s", err)
	case errors.Is(err, ingest.ErrInvalidExclude):
		return usageErr(cmd, "--exclude: %s", err)
	case err != nil:
		return cliutil.WithCode(cliutil.ExitUsage, err)
	}
	if _, err := cliutil.DatabaseURL(a.databaseURL); err != nil {
		return err
	}
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	run, err := ingest.Submit(ctx, client, opts)
	if err != nil {
		return a.interrupted(ctx, err)
	}
	fmt.Fprintf(a.stderr, "submitted ingest run %s of codebase %s (%s)\n", run.ID, run.Codebase, run.Root)
	sc, err := ingest.WaitScan(ctx, client, run.ID, f.pollInterval)
	var scanErr *ingest.ScanError
	switch {
	case errors.As(err, &scanErr) && f.wait:
		// The run goes on to its notification; follow it to its end.
		fmt.Fprintf(a.stderr, "%s\n", err)
		sc = &ingest.ScanOutput{}
	case err != nil && ctx.Err() != nil:
		return a.stoppedFollowing(ctx, run.ID, progress{status: flowtype.WorkflowRunning})
	case err != nil:
		return err
	default:
		c := sc.Files
		fmt.Fprintf(a.stderr, "scanned %s: %d new, %d changed, %d removed, %d unchanged, %d skipped\n",
			run.Root, c.New, c.Changed, c.Removed, c.Unchanged, c.Skipped)
	}
	out := ingestOutput{ID: run.ID, Codebase: run.Codebase, Files: sc.Files}
	if !f.wait {
		if f.output == outJSON {
			return a.printJSON(out)
		}
		fmt.Fprintln(a.stdout, run.ID)
		return nil
	}
	followErr := a.follow(ctx, client, run.ID, f.pollInterval, outText)
	if ctx.Err() != nil {
		return followErr
	}
	p, err := client.Progress(context.WithoutCancel(ctx), run.ID)
	if err != nil {
		return errors.Join(followErr, err)
	}
	out.Status = string(p.Status)
	if f.output == outJSON {
		if err := a.printJSON(out); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(a.stdout, run.ID)
	}
	return followErr
}
