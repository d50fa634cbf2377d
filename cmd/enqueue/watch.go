package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/ingest"
)

// watchPriority is the priority of the runs watch submits: an edit should
// be searchable in seconds, ahead of bulk ingests.
const watchPriority = "high"

type watchFlags struct {
	codebase string
	debounce time.Duration
	excludes []string
	output   string
}

func (a *app) watchCmd() *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "watch PATH",
		Short: "Keep a codebase ingested while its files change",
		Long: `Watch follows the tree at PATH (every directory, new ones included) and keeps
its codebase ingested: an ingest run at start (an unchanged tree costs no
per-file step), then an incremental run per settled burst of changes (no
event for --debounce). A burst during a run waits for it; one run then
covers everything that changed meanwhile. Runs are submitted at priority
high; workers (the worker command, with the ingestion kinds) run them, and
PATH must be the same path on their machines.

Each run's completion notification is printed as it arrives: a line with the
run, its status and counts, or with -o json one JSON object per line, the
notification payload (docs/INGESTION.md). Watch runs until interrupted
(Ctrl-C: exit 0).`,
		Example: `  enqueue watch ./myproject
  enqueue watch /src/app --codebase app --debounce 1s --exclude 'build/' --exclude '*.log'
  enqueue watch . -o json | jq -r 'select(.status != "completed") | .run'`,
		Args: argsNamed("PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, f.output); err != nil {
				return err
			}
			if f.debounce <= 0 {
				return usageErr(cmd, "--debounce must be positive (got %s)", f.debounce)
			}
			for _, ex := range f.excludes {
				if !doublestar.ValidatePattern(ex) {
					return usageErr(cmd, "invalid --exclude %q: not a glob (an unclosed [ or {?)", ex)
				}
			}
			return a.watch(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.codebase, "codebase", "", "the codebase's name (default: the base name of PATH)")
	fl.DurationVar(&f.debounce, "debounce", 300*time.Millisecond, "a burst of changes settles after this long without one")
	fl.StringArrayVar(&f.excludes, "exclude", nil, "ignore paths matching this gitignore-style pattern (repeatable)")
	addOutputFlag(cmd, &f.output)
	return cmd
}

func (a *app) watch(ctx context.Context, path string, f watchFlags) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	opts := ingest.WatchOptions{
		Options:  ingest.Options{Path: path, Codebase: f.codebase, Priority: watchPriority, Excludes: f.excludes},
		Debounce: f.debounce,
		OnSubmit: func(r *ingest.Run) {
			a.logger.Info("submitted an ingest run", "run", r.ID, "codebase", r.Codebase)
		},
		OnError: func(err error) { a.logger.Warn("watch", "error", err) },
	}
	fmt.Fprintf(a.stderr, "watching %s (Ctrl-C to stop)\n", path)
	err = ingest.Watch(ctx, client, opts, func(n ingest.Notification) {
		if f.output == outJSON {
			b, err := json.Marshal(n)
			if err == nil {
				fmt.Fprintf(a.stdout, "%s\n", b)
			}
			return
		}
		fmt.Fprintln(a.stdout, fmtNotification(n))
	})
	if errors.Is(context.Cause(ctx), errInterrupted) {
		return nil // Ctrl-C is how a watch ends
	}
	return a.interrupted(ctx, err)
}

// fmtNotification is a run's notification on one line.
func fmtNotification(n ingest.Notification) string {
	s := fmt.Sprintf("%s  run %s %s: %d new, %d changed, %d removed, %d unchanged, %d skipped; %d symbols, %d chunks",
		n.Codebase, n.Run, n.Status, n.Files.New, n.Files.Changed, n.Files.Removed, n.Files.Unchanged, n.Files.Skipped, n.Symbols, n.Chunks)
	if !n.StartedAt.IsZero() && !n.FinishedAt.IsZero() {
		s += " in " + fmtDuration(n.FinishedAt.Sub(n.StartedAt))
	}
	return s
}
