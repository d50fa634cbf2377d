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

	"github.com/bmatcuk/doublestar/v4"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/ingest/watch"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Options are those of every run Watch submits (Path is the tree
	// watched; Codebase defaults to its base name).
	Options
	// Debounce is how long the tree must be quiet before a burst of
	// changes counts as settled; 0 means 300ms.
	Debounce time.Duration
	// OnSubmit, when set, is called with each run Watch submits.
	OnSubmit func(*Run)
	// OnError, when set, is called with the errors Watch survives (a
	// submit that failed, retried a few seconds later; a lost LISTEN
	// connection, reopened).
	OnError func(error)
}

// Intervals of Watch.
var (
	// watchPoll is how often Watch checks its run's row and workflow, in
	// case a notification was lost (a LISTEN connection that dropped) or
	// the run ended without one (cancelled).
	watchPoll = 2 * time.Second
	// watchReconnect is the pause before a lost LISTEN connection is
	// reopened.
	watchReconnect = time.Second
)

var codebaseNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// Watch follows the tree at opts.Path (internal/ingest/watch: fsnotify,
// one watch per directory, new directories picked up) and keeps the
// codebase ingested: it submits an ingest run at start (an unchanged tree
// costs no per-file node, and it catches what changed while nobody
// watched), then one incremental run per settled burst of changes, and
// calls onNotification with each of its runs' completion notifications
// (NotifyChannel, LISTENed on a connection of its own). A burst that
// settles while a run is in flight waits for that run to finish; then one
// run covers everything that changed meanwhile. Watch returns when ctx is
// done (with ctx's error), or with an error for a path that is not a
// directory, a codebase name that is not valid, a first run that cannot
// be submitted, or a watcher that fails.
func Watch(ctx context.Context, c *flow.Client, opts WatchOptions, onNotification func(Notification)) error {
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return fmt.Errorf("watch %s: %w", opts.Path, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return fmt.Errorf("watch %s: %w", opts.Path, err)
	case !fi.IsDir():
		return fmt.Errorf("watch %s: not a directory", opts.Path)
	}
	opts.Path = abs
	if opts.Codebase == "" {
		opts.Codebase = filepath.Base(abs)
	}
	if !codebaseNameRE.MatchString(opts.Codebase) {
		return fmt.Errorf("watch %s: invalid codebase name %q: use 1 to 128 letters, digits, '_', '.' and '-'", opts.Path, opts.Codebase)
	}
	for _, ex := range opts.Excludes {
		if !doublestar.ValidatePattern(ex) {
			return fmt.Errorf("watch %s: invalid --exclude %q", opts.Path, ex)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	notes := make(chan Notification, 16)
	listening := make(chan struct{})
	go listen(ctx, c.Pool(), notes, listening, opts.OnError)
	select {
	case <-listening: // LISTEN is in place before the first submit
	case <-ctx.Done():
		return ctx.Err()
	}

	bursts := make(chan struct{}, 1)
	watchErr := make(chan error, 1)
	go func() {
		watchErr <- watch.Run(ctx, watch.Options{Root: abs, Debounce: opts.Debounce, Ignore: watchIgnore(opts.Excludes)},
			func(watch.Burst) error {
				select {
				case bursts <- struct{}{}:
				default: // one is pending already: the next run covers both
				}
				return nil
			})
	}()

	l := &watchLoop{
		opts:     opts,
		notes:    notes,
		bursts:   bursts,
		watchErr: watchErr,
		notify:   onNotification,
		submit:   func(ctx context.Context) (*Run, error) { return Submit(ctx, c, opts.Options) },
		check: func(ctx context.Context, run string) (*Notification, error) {
			return runOutcome(ctx, c, run, opts.Codebase)
		},
		poll: watchPoll,
	}
	return l.run(ctx)
}

// watchLoop is Watch's state machine, separate from its I/O so it can be
// tested alone.
type watchLoop struct {
	opts     WatchOptions
	notes    <-chan Notification
	bursts   <-chan struct{}
	watchErr <-chan error
	notify   func(Notification)
	submit   func(context.Context) (*Run, error)
	// check returns the run's outcome once it is over (from its
	// qf_ingest_run row, or its workflow's final state), nil before.
	check func(ctx context.Context, run string) (*Notification, error)
	poll  time.Duration
}

func (l *watchLoop) run(ctx context.Context) error {
	inflight := "" // the run submitted and not finished
	pending := true
	first := true
	tick := time.NewTicker(l.poll)
	defer tick.Stop()
	for {
		if pending && inflight == "" {
			run, err := l.submit(ctx)
			switch {
			case err != nil && first:
				return fmt.Errorf("watch %s: first ingest: %w", l.opts.Path, err)
			case err != nil:
				l.onError(fmt.Errorf("submit an ingest of %s (retrying): %w", l.opts.Path, err))
			default:
				pending, first, inflight = false, false, run.ID
				if l.opts.OnSubmit != nil {
					l.opts.OnSubmit(run)
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-l.watchErr:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("watch %s: %w", l.opts.Path, err)
		case <-l.bursts:
			pending = true
		case n := <-l.notes:
			if n.Run == inflight && inflight != "" {
				inflight = ""
				l.notify(n)
			}
		case <-tick.C:
			if inflight == "" {
				continue
			}
			n, err := l.check(ctx, inflight)
			if err != nil {
				l.onError(fmt.Errorf("check run %s: %w", inflight, err))
				continue
			}
			if n != nil {
				inflight = ""
				l.notify(*n)
			}
		}
	}
}

func (l *watchLoop) onError(err error) {
	if l.opts.OnError != nil {
		l.opts.OnError(err)
	}
}

// listen LISTENs on NotifyChannel on a connection of its own (taken out of
// the pool) and sends every notification on notes, reopening the
// connection when it is lost. It closes listening once the first LISTEN is
// in place.
func listen(ctx context.Context, pool *pgxpool.Pool, notes chan<- Notification, listening chan struct{}, onError func(error)) {
	once := false
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, notes, func() {
			if !once {
				once = true
				close(listening)
			}
		})
		if ctx.Err() != nil {
			return
		}
		if onError != nil {
			onError(fmt.Errorf("listen on %s (reconnecting): %w", NotifyChannel, err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(watchReconnect):
		}
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, notes chan<- Notification, ready func()) error {
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // LISTEN state must not go back to the pool
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return err
	}
	ready()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var note Notification
		if err := json.Unmarshal([]byte(n.Payload), &note); err != nil {
			continue // not ours to judge; the run's row is checked by poll
		}
		select {
		case notes <- note:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// runOutcome returns the outcome of run: its qf_ingest_run row as a
// Notification when completion_notification wrote it, or the workflow's
// final state when it ended without one (cancelled); nil while it runs.
func runOutcome(ctx context.Context, c *flow.Client, run, codebase string) (*Notification, error) {
	var n Notification
	var counts []byte
	err := c.Pool().QueryRow(ctx, `
SELECT status, counts, started_at, finished_at FROM qf_ingest_run WHERE run_id = $1`, run).
		Scan(&n.Status, &counts, &n.StartedAt, &n.FinishedAt)
	switch {
	case err == nil:
		n.Run, n.Codebase = run, codebase
		decodeCounts(counts, &n)
		return &n, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, err
	}
	p, err := c.Progress(ctx, run)
	if err != nil {
		return nil, err
	}
	if !p.Status.IsFinal() {
		return nil, nil
	}
	n = Notification{Run: run, Codebase: codebase, Status: string(p.Status), StartedAt: p.CreatedAt}
	if p.FinishedAt != nil {
		n.FinishedAt = *p.FinishedAt
	}
	return &n, nil
}

// decodeCounts fills n's counts from a qf_ingest_run.counts value: the
// notification's own fields ({"files": ..., "symbols": ..., "chunks": ...})
// or bare file counts.
func decodeCounts(b []byte, n *Notification) {
	var full struct {
		Files   *FileCounts `json:"files"`
		Symbols int         `json:"symbols"`
		Chunks  int         `json:"chunks"`
	}
	if json.Unmarshal(b, &full) == nil && full.Files != nil {
		n.Files, n.Symbols, n.Chunks = *full.Files, full.Symbols, full.Chunks
		return
	}
	_ = json.Unmarshal(b, &n.Files)
}

// watchIgnore is the watcher's filter: .git and node_modules (whose churn
// no ingest keeps) and the excludes, gitignore-style globs relative to the
// root (a pattern without / matches at any depth). The scan applies every
// ignore rule anyway; this only spares runs that would find nothing new.
func watchIgnore(excludes []string) func(rel string) bool {
	return func(rel string) bool {
		p := strings.TrimSuffix(rel, "/")
		for _, part := range strings.Split(p, "/") {
			if part == ".git" || part == "node_modules" {
				return true
			}
		}
		for _, ex := range excludes {
			ex = strings.TrimSuffix(ex, "/")
			if !strings.Contains(ex, "/") {
				ex = "**/" + ex
			}
			ex = strings.TrimPrefix(ex, "/")
			if ok, _ := doublestar.Match(ex, p); ok {
				return true
			}
			if ok, _ := doublestar.Match(ex+"/**", p); ok {
				return true
			}
		}
		return false
	}
}
