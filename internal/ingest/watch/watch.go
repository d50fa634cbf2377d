// Package watch follows a directory tree with fsnotify (one watch per
// directory, new directories picked up) and reports settled bursts of
// changes: a burst settles when no event has arrived for the debounce.
//
// fsnotify is not recursive, so Run adds a watch for every directory that
// is not ignored when it starts, adds one for each directory created (or
// moved in) later and lists that directory's content at once, so files
// made before its watch was in place are not missed, and drops the watches
// of directories removed or moved away. Symlinks are not followed. On
// Linux each watch is an inotify watch, limited per user by
// fs.inotify.max_user_watches; a directory whose watch cannot be added is
// logged and makes the next burst an overflow burst.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is the quiet time that settles a burst when
// Options.Debounce is 0.
const DefaultDebounce = 300 * time.Millisecond

// Burst is one settled burst of changes.
type Burst struct {
	// Paths are the changed paths relative to the root, / separators,
	// sorted, deduplicated: files created, written, removed or renamed
	// (both the old and the new name). A path may name a directory: one
	// created or moved in comes with every file in it, and one removed or
	// moved away stands for everything that was under it.
	Paths []string
	// Overflow says events were lost (the kernel's queue overflowed, or a
	// new directory could not be watched): anything under the root may have
	// changed, and the consumer should rescan the whole tree. Paths still
	// lists what was seen.
	Overflow bool
}

// Options configure a watch.
type Options struct {
	Root     string
	Debounce time.Duration // 0 means DefaultDebounce
	// Ignore reports whether a relative path (a directory ends in /) is
	// not watched; nil watches everything but .git. Paths under .git are
	// left out always. scan.Ignorer's Match has this form.
	Ignore func(rel string) bool
	// Ready, when set, is called once every initial watch is in place,
	// before any burst: changes made after it returns are seen.
	Ready func()
	// Logger receives the errors that do not end the watch (fsnotify's,
	// and directories that cannot be listed or watched); nil means
	// slog.Default().
	Logger *slog.Logger
}

// testHookErrors, when set by a test, is read like fsnotify's error channel.
var testHookErrors chan error

// Run watches until ctx is done, calling onBurst for each settled burst
// (one at a time; events during onBurst start the next burst). It returns
// ctx.Err() once ctx is done, after a running onBurst has returned (so
// onBurst should honour the same context); the error of onBurst, if it
// returns one; or an error if the root is not a directory or its watches
// cannot be set up (fsnotify.NewWatcher fails, or the root's own watch).
func Run(ctx context.Context, opts Options, onBurst func(Burst) error) error {
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return fmt.Errorf("watch %s: %w", opts.Root, err)
	}
	if fi, err := os.Stat(root); err != nil {
		return fmt.Errorf("watch %s: %w", opts.Root, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("watch %s: not a directory", opts.Root)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", root, err)
	}
	defer fw.Close()

	w := &watcher{root: root, fw: fw, ignore: opts.Ignore, log: opts.Logger, dirs: map[string]bool{}, pending: map[string]bool{}}
	if w.log == nil {
		w.log = slog.Default()
	}
	if err := fw.Add(root); err != nil {
		return fmt.Errorf("watch %s: %w", root, err)
	}
	w.dirs[""] = true
	w.addTree("", false)
	if opts.Ready != nil {
		opts.Ready()
	}
	return w.loop(ctx, cmpOr(opts.Debounce, DefaultDebounce), onBurst)
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

type watcher struct {
	root   string
	fw     *fsnotify.Watcher
	ignore func(string) bool
	log    *slog.Logger

	dirs     map[string]bool // watched directories, relative ("" is the root)
	pending  map[string]bool // the burst being gathered
	overflow bool
}

func (w *watcher) loop(ctx context.Context, debounce time.Duration, onBurst func(Burst) error) error {
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	var (
		running bool // onBurst is running
		due     bool // a burst settled while onBurst ran
		done    = make(chan error, 1)
	)
	dispatch := func() {
		if len(w.pending) == 0 && !w.overflow {
			return
		}
		b := Burst{Paths: make([]string, 0, len(w.pending)), Overflow: w.overflow}
		for p := range w.pending {
			b.Paths = append(b.Paths, p)
		}
		slices.Sort(b.Paths)
		w.pending, w.overflow = map[string]bool{}, false
		running = true
		go func() { done <- onBurst(b) }()
	}
	changed := func() { settle.Reset(debounce) }

	for {
		select {
		case <-ctx.Done():
			if running {
				<-done
			}
			return ctx.Err()
		case ev, ok := <-w.fw.Events:
			if !ok {
				return fmt.Errorf("watch %s: fsnotify closed its event channel", w.root)
			}
			if w.handle(ev) {
				changed()
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return fmt.Errorf("watch %s: fsnotify closed its error channel", w.root)
			}
			if w.handleError(err) {
				changed()
			}
		case err := <-testHookErrors:
			if w.handleError(err) {
				changed()
			}
		case <-settle.C:
			if running {
				due = true
			} else {
				dispatch()
			}
		case err := <-done:
			running = false
			if err != nil {
				return err
			}
			if due {
				due = false
				dispatch()
			}
		}
	}
}

// handleError records an overflow (and re-walks the tree, since directories
// created meanwhile went unseen) or logs anything else. It reports whether
// the burst changed.
func (w *watcher) handleError(err error) bool {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Warn("watch: events lost, the next burst says everything may have changed", "root", w.root, "err", err)
		w.overflow = true
		w.rewalk()
		return true
	}
	w.log.Error("watch: fsnotify error", "root", w.root, "err", err)
	return false
}

// skipped reports whether rel is left out of bursts and watches.
func (w *watcher) skipped(rel string, isDir bool) bool {
	for _, c := range strings.Split(rel, "/") {
		if c == ".git" {
			return true
		}
	}
	if w.ignore == nil {
		return false
	}
	if isDir {
		return w.ignore(rel + "/")
	}
	return w.ignore(rel)
}

// handle applies one event; it reports whether the burst changed.
func (w *watcher) handle(ev fsnotify.Event) bool {
	rel, err := filepath.Rel(w.root, ev.Name)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false // the root itself, or nothing of ours
	}
	rel = filepath.ToSlash(rel)
	switch {
	case ev.Has(fsnotify.Create):
		fi, err := os.Lstat(ev.Name)
		if err == nil && fi.IsDir() {
			if w.skipped(rel, true) {
				return false
			}
			w.pending[rel] = true
			w.addTree(rel, true)
			return true
		}
		if w.skipped(rel, false) {
			return false
		}
		w.pending[rel] = true // a file, or a name already gone again
		w.ignoreFileChanged(rel)
		return true
	case ev.Has(fsnotify.Write), ev.Has(fsnotify.Remove), ev.Has(fsnotify.Rename):
		wasDir := w.dirs[rel]
		if w.skipped(rel, wasDir) {
			return false
		}
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			w.drop(rel)
		}
		w.pending[rel] = true
		w.ignoreFileChanged(rel)
		return true
	}
	return false // Chmod alone
}

// ignoreFileChanged re-walks the tree when rel is an ignore file, so that a
// directory it no longer ignores gets its watch. (One it now ignores keeps
// its watch; Ignore leaves its events out.)
func (w *watcher) ignoreFileChanged(rel string) {
	if name := path.Base(rel); name == ".gitignore" || name == ".qfignore" {
		w.rewalk()
	}
}

// addTree watches the directories under rel (rel itself is watched by the
// caller or here) and, when record is set, adds every path it finds to the
// burst.
func (w *watcher) addTree(rel string, record bool) {
	abs := filepath.Join(w.root, filepath.FromSlash(rel))
	if !w.dirs[rel] {
		if err := w.fw.Add(abs); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				w.log.Error("watch: cannot watch a directory; its changes will be missed", "dir", abs, "err", err)
				w.overflow = true
			}
			return
		}
		w.dirs[rel] = true
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.log.Error("watch: cannot list a directory", "dir", abs, "err", err)
		}
		return
	}
	for _, e := range entries {
		child := e.Name()
		if rel != "" {
			child = rel + "/" + child
		}
		isDir := e.IsDir()
		if w.skipped(child, isDir) {
			continue
		}
		if record {
			w.pending[child] = true
		}
		if isDir {
			w.addTree(child, record)
		}
	}
}

// drop forgets the watches of rel and the directories below it, after a
// removal or a move (fsnotify drops a moved directory's own watch, not its
// children's).
func (w *watcher) drop(rel string) {
	for d := range w.dirs {
		if d == rel || strings.HasPrefix(d, rel+"/") {
			_ = w.fw.Remove(filepath.Join(w.root, filepath.FromSlash(d))) // already gone with the directory, usually
			delete(w.dirs, d)
		}
	}
}

// rewalk drops the watches of directories that are gone and adds the
// missing ones, after events were lost.
func (w *watcher) rewalk() {
	for d := range w.dirs {
		if fi, err := os.Lstat(filepath.Join(w.root, filepath.FromSlash(d))); d != "" && (err != nil || !fi.IsDir()) {
			w.drop(d)
		}
	}
	w.addTree("", false)
}
