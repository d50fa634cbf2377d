package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// fakeRuns plays the pipeline for watchLoop: submit records a run, and the
// test finishes runs by sending their notifications.
type fakeRuns struct {
	mu        sync.Mutex
	submitted []string
	failNext  int
	done      map[string]bool // runs check reports over
}

func (f *fakeRuns) submit(context.Context) (*Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 {
		f.failNext--
		return nil, errors.New("database unreachable")
	}
	id := fmt.Sprintf("run-%d", len(f.submitted)+1)
	f.submitted = append(f.submitted, id)
	return &Run{ID: id, Codebase: "demo"}, nil
}

func (f *fakeRuns) check(_ context.Context, run string) (*Notification, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done[run] {
		return &Notification{Run: run, Status: "cancelled"}, nil
	}
	return nil, nil
}

func (f *fakeRuns) runs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.submitted...)
}

// TestWatchLoop: a run at start; a burst while a run is in flight waits
// for it, and several such bursts make one run; each run's notification
// is passed on once, others' are not; a run that ends without a
// notification is noticed by polling; a failed submit is retried.
func TestWatchLoop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notes := make(chan Notification)
	bursts := make(chan struct{}, 1)
	got := make(chan Notification, 10)
	errs := make(chan error, 10)
	f := &fakeRuns{done: map[string]bool{}}
	l := &watchLoop{
		opts:     WatchOptions{Options: Options{Path: "/src/demo"}, OnError: func(err error) { errs <- err }},
		notes:    notes,
		bursts:   bursts,
		watchErr: make(chan error),
		notify:   func(n Notification) { got <- n },
		submit:   f.submit,
		check:    f.check,
		poll:     20 * time.Millisecond,
	}
	done := make(chan error, 1)
	go func() { done <- l.run(ctx) }()

	require.Eventually(t, func() bool { return len(f.runs()) == 1 }, 5*time.Second, 5*time.Millisecond, "a run at start")
	// Two bursts during run-1: no submit until it finishes.
	bursts <- struct{}{}
	bursts <- struct{}{}
	notes <- Notification{Run: "someone-else", Status: "completed"}
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, []string{"run-1"}, f.runs())
	notes <- Notification{Run: "run-1", Status: "completed"}
	require.Equal(t, "run-1", (<-got).Run)
	require.Eventually(t, func() bool { return len(f.runs()) == 2 }, 5*time.Second, 5*time.Millisecond, "one run for both bursts")
	time.Sleep(50 * time.Millisecond)
	require.Len(t, f.runs(), 2)

	// run-2 ends without a notification (cancelled): polling notices.
	f.mu.Lock()
	f.done["run-2"] = true
	f.mu.Unlock()
	n := <-got
	require.Equal(t, Notification{Run: "run-2", Status: "cancelled"}, n)
	// A late duplicate notification is not passed on.
	notes <- Notification{Run: "run-2", Status: "completed"}

	// A failed submit is reported and retried.
	f.mu.Lock()
	f.failNext = 1
	f.mu.Unlock()
	bursts <- struct{}{}
	require.ErrorContains(t, <-errs, "database unreachable")
	require.Eventually(t, func() bool { return len(f.runs()) == 3 }, 5*time.Second, 5*time.Millisecond, "retried")
	select {
	case n := <-got:
		t.Fatalf("unexpected notification %+v", n)
	default:
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestWatchLoopFirstSubmitFails(t *testing.T) {
	t.Parallel()
	f := &fakeRuns{failNext: 1}
	l := &watchLoop{opts: WatchOptions{Options: Options{Path: "/src/demo"}}, submit: f.submit, check: f.check, poll: time.Second}
	require.ErrorContains(t, l.run(context.Background()), "watch /src/demo: first ingest: database unreachable")
}

func TestWatchIgnore(t *testing.T) {
	t.Parallel()
	ig := watchIgnore([]string{"*.log", "build/", "docs/gen"})
	for rel, want := range map[string]bool{
		".git/": true, ".git/HEAD": true, "a/node_modules/x.js": true, "x.log": true, "a/b/x.log": true,
		"build/": true, "build/out.o": true, "a/build/": true, "docs/gen/": true, "docs/gen/a.md": true,
		"main.go": false, "docs/": false, "docs/a.md": false, "gitx/": false, "x.logs": false,
	} {
		require.Equal(t, want, ig(rel), rel)
	}
}

func TestWatchBadInput(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	c, err := flow.NewClient(db.Pool, nil)
	require.NoError(t, err)
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	tests := []struct {
		name string
		opts WatchOptions
		msg  string
	}{
		{"missing", WatchOptions{Options: Options{Path: filepath.Join(dir, "nope")}}, "no such file or directory"},
		{"not a directory", WatchOptions{Options: Options{Path: file}}, "not a directory"},
		{"codebase", WatchOptions{Options: Options{Path: dir, Codebase: "a b"}}, `invalid codebase name "a b"`},
		{"exclude", WatchOptions{Options: Options{Path: dir, Excludes: []string{"a/[b"}}}, `invalid --exclude "a/[b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Watch(context.Background(), c, tt.opts, func(Notification) {})
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// TestWatchListenAndOutcome: listen delivers what completion_notification
// sends on NotifyChannel; runOutcome reads a finished run's row.
func TestWatchListenAndOutcome(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notes := make(chan Notification, 1)
	listening := make(chan struct{})
	go listen(ctx, db.Pool, notes, listening, func(err error) { t.Errorf("listen: %v", err) })
	<-listening
	payload := `{"run": "r-1", "codebase": "demo", "status": "completed", "files": {"new": 2, "changed": 1, "removed": 0, "unchanged": 5, "skipped": 1}, "symbols": 7, "chunks": 9, "started_at": "2026-01-02T03:04:05Z", "finished_at": "2026-01-02T03:04:06Z"}`
	_, err := db.Pool.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, payload)
	require.NoError(t, err)
	select {
	case n := <-notes:
		require.Equal(t, "r-1", n.Run)
		require.Equal(t, FileCounts{New: 2, Changed: 1, Unchanged: 5, Skipped: 1}, n.Files)
		require.Equal(t, 7, n.Symbols)
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}

	c, err := flow.NewClient(db.Pool, nil)
	require.NoError(t, err)
	cb := insertCodebase(t, db.Pool, "demo", nil)
	_, err = db.Pool.Exec(ctx, `INSERT INTO qf_ingest_run (run_id, codebase_id, status, counts, started_at) VALUES ('r-1', $1, 'completed', $2, now())`,
		cb, `{"files": {"new": 2}, "symbols": 7, "chunks": 9}`)
	require.NoError(t, err)
	n, err := runOutcome(ctx, c, "r-1", "demo")
	require.NoError(t, err)
	require.Equal(t, "completed", n.Status)
	require.Equal(t, 2, n.Files.New)
	require.Equal(t, 9, n.Chunks)
	_, err = runOutcome(ctx, c, "7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f", "demo")
	require.ErrorIs(t, err, flow.ErrNotFound, "no row, no workflow")
}
