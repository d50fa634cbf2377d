package watch

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/stretchr/testify/require"
)

// wait is how long a test waits for a burst: generous, for a loaded
// machine. Tests assert on counts and contents, never on speed.
const wait = 15 * time.Second

// harness runs Run on a temp dir and collects its bursts.
type harness struct {
	t      *testing.T
	root   string
	bursts chan Burst
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, setup func(root string), opts Options) *harness {
	t.Helper()
	h := &harness{t: t, root: t.TempDir(), bursts: make(chan Burst, 100), done: make(chan error, 1)}
	if setup != nil {
		setup(h.root)
	}
	opts.Root = h.root
	if opts.Debounce == 0 {
		opts.Debounce = 200 * time.Millisecond
	}
	ready := make(chan struct{})
	opts.Ready = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		h.done <- Run(ctx, opts, func(b Burst) error { h.bursts <- b; return nil })
	}()
	select {
	case <-ready:
	case err := <-h.done:
		t.Fatalf("Run returned before it was ready: %v", err)
	case <-time.After(wait):
		t.Fatal("Run not ready")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(wait):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

func (h *harness) write(rel, content string) {
	h.t.Helper()
	p := filepath.Join(h.root, filepath.FromSlash(rel))
	require.NoError(h.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(h.t, os.WriteFile(p, []byte(content), 0o644))
}

func (h *harness) next() Burst {
	h.t.Helper()
	select {
	case b := <-h.bursts:
		return b
	case <-time.After(wait):
		h.t.Fatal("no burst")
		return Burst{}
	}
}

// quiet asserts that no burst arrives for d.
func (h *harness) quiet(d time.Duration) {
	h.t.Helper()
	select {
	case b := <-h.bursts:
		h.t.Fatalf("unexpected burst %+v", b)
	case <-time.After(d):
	}
}

// until gathers bursts until every path in want was seen, and returns the
// union.
func (h *harness) until(want ...string) map[string]bool {
	h.t.Helper()
	seen := map[string]bool{}
	deadline := time.After(wait)
	for {
		missing := false
		for _, p := range want {
			missing = missing || !seen[p]
		}
		if !missing {
			return seen
		}
		select {
		case b := <-h.bursts:
			for _, p := range b.Paths {
				seen[p] = true
			}
		case <-deadline:
			h.t.Fatalf("saw %v, want all of %v", seen, want)
		}
	}
}

func TestEditIsOneBurst(t *testing.T) {
	h := start(t, func(root string) {
		require.NoError(t, os.MkdirAll(filepath.Join(root, "pkg/sub"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, "pkg/sub/a.go"), []byte("a"), 0o644))
	}, Options{})
	h.write("pkg/sub/a.go", "edited")
	require.Equal(t, Burst{Paths: []string{"pkg/sub/a.go"}}, h.next())
	h.quiet(time.Second)
}

func TestWritesWithinDebounceCoalesce(t *testing.T) {
	h := start(t, nil, Options{Debounce: time.Second})
	for i := range 30 {
		h.write("a.go", strings.Repeat("x", i))
		if i%10 == 0 {
			h.write("b.go", "b")
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.Equal(t, Burst{Paths: []string{"a.go", "b.go"}}, h.next())
	h.quiet(2 * time.Second)
}

func TestNewDirectoryIsWatched(t *testing.T) {
	h := start(t, nil, Options{})
	// Made as fast as possible: the files land before the new
	// directories' watches can be in place, so only listing finds them.
	h.write("new/x.go", "x")
	h.write("new/deeper/still/y.go", "y")
	seen := h.until("new/x.go", "new/deeper/still/y.go")
	require.True(t, seen["new"])

	// And the new directories are watched from now on.
	h.write("new/deeper/still/z.go", "z")
	h.until("new/deeper/still/z.go")
}

func TestRemoveAndRename(t *testing.T) {
	h := start(t, func(root string) {
		require.NoError(t, os.MkdirAll(filepath.Join(root, "d/e"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, "d/e/f.go"), nil, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(root, "gone.go"), nil, 0o644))
	}, Options{})
	require.NoError(t, os.Remove(filepath.Join(h.root, "gone.go")))
	require.Equal(t, Burst{Paths: []string{"gone.go"}}, h.next())

	require.NoError(t, os.Rename(filepath.Join(h.root, "d"), filepath.Join(h.root, "moved")))
	h.until("d", "moved", "moved/e/f.go")

	// Writes under the new name are reported under the new name, never
	// under the old one (the old directories' watches were dropped).
	h.write("moved/e/f.go", "edit")
	b := h.next()
	require.Equal(t, []string{"moved/e/f.go"}, b.Paths)
}

func TestIgnoredPathsDoNotTrigger(t *testing.T) {
	h := start(t, func(root string) {
		for _, d := range []string{".git/objects", "out", "src"} {
			require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
		}
	}, Options{Ignore: func(rel string) bool {
		return rel == "out/" || strings.HasSuffix(rel, ".log") || strings.HasPrefix(rel, "tmp")
	}})
	h.write(".git/objects/ab", "blob")
	h.write(".git/HEAD", "ref")
	h.write("out/bin.go", "")
	h.write("src/debug.log", "")
	h.write("x.log", "")
	require.NoError(t, os.MkdirAll(filepath.Join(h.root, "tmpdir/sub"), 0o755))
	h.write("tmpdir/sub/t.go", "")
	h.quiet(time.Second)

	h.write("src/main.go", "marker")
	require.Equal(t, Burst{Paths: []string{"src/main.go"}}, h.next())
}

func TestOverflowBurst(t *testing.T) {
	testHookErrors = make(chan error)
	t.Cleanup(func() { testHookErrors = nil }) // after the harness stopped Run
	h := start(t, nil, Options{})
	testHookErrors <- fsnotify.ErrEventOverflow
	require.Equal(t, Burst{Paths: []string{}, Overflow: true}, h.next())
	// A directory made while events were lost is picked up by the
	// re-walk that follows an overflow.
	h.write("later/a.go", "a")
	h.until("later/a.go")
}

func TestCancelReturnsPromptly(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- Run(ctx, Options{Root: root, Ready: func() { close(ready) }}, func(Burst) error { return nil })
	}()
	<-ready
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(wait):
		t.Fatal("Run did not return after cancel")
	}
}

func TestBurstErrorEndsRun(t *testing.T) {
	root := t.TempDir()
	boom := errors.New("boom")
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- Run(context.Background(), Options{Root: root, Debounce: 50 * time.Millisecond, Ready: func() { close(ready) }},
			func(Burst) error { return boom })
	}()
	<-ready
	require.NoError(t, os.WriteFile(filepath.Join(root, "a"), nil, 0o644))
	select {
	case err := <-done:
		require.ErrorIs(t, err, boom)
	case <-time.After(wait):
		t.Fatal("Run did not return the burst's error")
	}
}

func TestRootErrors(t *testing.T) {
	root := t.TempDir()
	err := Run(context.Background(), Options{Root: filepath.Join(root, "missing")}, nil)
	require.ErrorIs(t, err, os.ErrNotExist)
	file := filepath.Join(root, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	require.Error(t, Run(context.Background(), Options{Root: file}, nil))
}

// TestOverflowRewalks checks the re-walk after lost events directly on a
// watcher whose events are never read: directories made meanwhile get
// watches, those gone lose theirs.
func TestOverflowRewalks(t *testing.T) {
	root := t.TempDir()
	fw, err := fsnotify.NewWatcher()
	require.NoError(t, err)
	defer fw.Close()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "old"), 0o755))
	w := &watcher{root: root, fw: fw, log: slog.Default(), dirs: map[string]bool{}, pending: map[string]bool{}}
	require.NoError(t, fw.Add(root))
	w.dirs[""] = true
	w.addTree("", false)
	require.Equal(t, map[string]bool{"": true, "old": true}, w.dirs)

	require.NoError(t, os.Remove(filepath.Join(root, "old")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "later/sub"), 0o755))
	require.True(t, w.handleError(fsnotify.ErrEventOverflow))
	require.True(t, w.overflow)
	require.Equal(t, map[string]bool{"": true, "later": true, "later/sub": true}, w.dirs)
	require.ElementsMatch(t, []string{root, filepath.Join(root, "later"), filepath.Join(root, "later/sub")}, fw.WatchList())
}

// TestIgnoreFileEditRewalks: a directory ignored at the start is watched
// once an edit of .gitignore stops ignoring it (the Ignore func here reads
// the file, as scan.Ignorer does).
func TestIgnoreFileEditRewalks(t *testing.T) {
	var root string
	h := start(t, func(r string) {
		root = r
		require.NoError(t, os.MkdirAll(filepath.Join(r, "gen"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(r, ".gitignore"), []byte("gen/\n"), 0o644))
	}, Options{Ignore: func(rel string) bool {
		b, _ := os.ReadFile(filepath.Join(root, ".gitignore"))
		return rel == "gen/" && strings.Contains(string(b), "gen/")
	}})
	h.write("gen/a.go", "ignored")
	h.quiet(time.Second)
	h.write(".gitignore", "# nothing\n")
	h.until(".gitignore")
	h.write("gen/b.go", "seen now")
	h.until("gen/b.go")
}
