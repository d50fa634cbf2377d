package scan

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// Skip reasons recorded for files the scan does not hand on. Content-level
// reasons (binary, invalid UTF-8, ...) belong to package lang.
const (
	ReasonSymlinkLoop    = "symlink_loop"         // a directory symlink leads back to an ancestor or a directory already walked
	ReasonSymlinkOutside = "symlink_outside_root" // a symlink resolves outside the root
	ReasonUnreadable     = "unreadable"           // open or read failed (permissions, I/O), or a dangling symlink
	ReasonTooLarge       = "too_large"            // larger than Options.MaxFileBytes
	ReasonSensitive      = "sensitive"            // a key, .env, certificate, ...: never read
	ReasonVanished       = "vanished"             // listed, then gone before it was read
	ReasonSpecial        = "special"              // a device, socket or pipe
)

// ErrNotExist and ErrNotDir are returned for a root that is missing or is
// not a directory.
var (
	ErrNotExist = errors.New("does not exist")
	ErrNotDir   = errors.New("is not a directory")
)

// DefaultMaxFileBytes is the size cap when Options.MaxFileBytes is 0.
const DefaultMaxFileBytes = 1 << 20

// Options configure a scan.
type Options struct {
	// Root is the directory to scan.
	Root string
	// Excludes are extra gitignore-style patterns, relative to Root. They
	// take precedence over every ignore file.
	Excludes []string
	// MaxFileBytes is the size cap; 0 (or less) means DefaultMaxFileBytes.
	MaxFileBytes int64
	// Workers is how many goroutines open and hash files; 0 means
	// max(4, GOMAXPROCS).
	Workers int
}

// File is a file the scan keeps.
type File struct {
	Path    string    // relative to the root, with / separators
	Size    int64     // bytes
	Hash    [32]byte  // SHA-256 of the content
	ModTime time.Time // as stat saw it
}

// Skip is a file the scan did not keep, and why.
type Skip struct {
	Path   string // relative to the root, with / separators
	Reason string // one of the Reason constants
	Detail string // the underlying error, when there was one
}

// Result is what a scan found, each list sorted by path.
type Result struct {
	Root    string // the absolute, cleaned root
	Files   []File
	Skipped []Skip
}

// testHookBeforeOpen, when set by a test, runs in a hashing goroutine after
// a file was listed and before it is opened.
var testHookBeforeOpen func(rel string)

// Scan walks opts.Root. It returns an error only for the root itself (it
// wraps ErrNotExist, ErrNotDir or the stat error), for a root directory
// that cannot be listed, for an unreadable .git/info/exclude, or for a
// cancelled context (wrapping ctx.Err()); every problem with a file inside
// is a Skip.
func Scan(ctx context.Context, opts Options) (*Result, error) {
	ig, err := NewIgnorer(opts.Root, opts.Excludes)
	if err != nil {
		return nil, err
	}
	realRoot, err := filepath.EvalSymlinks(ig.root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", ig.root, err)
	}
	w := &walker{
		ctx:      ctx,
		ig:       ig,
		realRoot: realRoot,
		max:      opts.MaxFileBytes,
		jobs:     make(chan job, 512),
		visited:  map[string]string{},
	}
	if w.max <= 0 {
		w.max = DefaultMaxFileBytes
	}
	n := opts.Workers
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0))
	}

	results := make([]hashed, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = w.hashAll()
		}()
	}
	walkErr := w.walk(ig.root, realRoot, "", nil, nil)
	if walkErr == nil {
		walkErr = w.followLinks()
	}
	close(w.jobs)
	wg.Wait()
	if walkErr != nil {
		return nil, walkErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan %s: %w", ig.root, err)
	}

	res := &Result{Root: ig.root, Skipped: w.skips}
	for _, r := range results {
		res.Files = append(res.Files, r.files...)
		res.Skipped = append(res.Skipped, r.skips...)
	}
	slices.SortFunc(res.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(res.Skipped, func(a, b Skip) int { return strings.Compare(a.Path, b.Path) })
	return res, nil
}

// checkRoot returns root made absolute and clean, or an error if it is not
// a directory.
func checkRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("scan %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("scan %s: %w", root, ErrNotExist)
	case err != nil:
		return "", fmt.Errorf("scan %s: %w", root, err)
	case !fi.IsDir():
		return "", fmt.Errorf("scan %s: %w", root, ErrNotDir)
	}
	return abs, nil
}

// walker is one scan's directory walk. The walk itself runs in one
// goroutine (Scan's); the files it keeps go to the hashing goroutines
// through jobs.
type walker struct {
	ctx      context.Context
	ig       *Ignorer
	realRoot string
	max      int64
	jobs     chan job

	skips    []Skip
	visited  map[string]string // real path of every directory walked → its rel
	deferred []dirLink
}

// job is a file to hash: listed as rel, opened at open.
type job struct {
	rel, open string
}

// dirLink is a symlink to a directory inside the root, followed after the
// real directories were walked so that "already walked" is decided the same
// whatever the names' order.
type dirLink struct {
	rel     string
	parts   []string
	levels  [][]gitignore.Pattern
	target  string // resolved real path
	fromDir string // real path of the directory holding the link
}

func (w *walker) skip(rel, reason string, err error) {
	s := Skip{Path: rel, Reason: reason}
	if err != nil {
		s.Detail = err.Error()
	}
	w.skips = append(w.skips, s)
}

// walk lists dir (read at path, real path realDir) known as rel (parts),
// with the ignore patterns of the directories above in levels.
func (w *walker) walk(path, realDir, rel string, parts []string, levels [][]gitignore.Pattern) error {
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("scan %s: %w", w.ig.root, err)
	}
	w.visited[realDir] = rel
	entries, err := os.ReadDir(path)
	if err != nil {
		if rel == "" {
			return fmt.Errorf("scan %s: %w", w.ig.root, err)
		}
		if errors.Is(err, fs.ErrNotExist) {
			w.skip(rel, ReasonVanished, err)
		} else {
			w.skip(rel, ReasonUnreadable, err)
		}
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.Name() == IgnoreFileNames[0] || e.Name() == IgnoreFileNames[1] {
			names = append(names, e.Name())
		}
	}
	rules := &ruleSet{}
	if len(names) > 0 {
		slices.Sort(names) // .gitignore before .qfignore
		if rules, err = loadRuleSet(path, names, parts); err != nil {
			rules = &ruleSet{} // an unreadable ignore file is empty; the file itself is skipped below
		}
	}
	levels = append(levels[:len(levels):len(levels)], rules.patterns)
	parts = parts[:len(parts):len(parts)]

	for _, e := range entries {
		name := e.Name()
		childRel := name
		if rel != "" {
			childRel = rel + "/" + name
		}
		childParts := append(parts, name)
		childPath := filepath.Join(path, name)
		typ := e.Type()
		isDir := typ.IsDir()
		if BuiltinIgnored(name, isDir) || w.ignored(levels, childParts, isDir) {
			continue
		}
		switch {
		case isDir:
			if err := w.walk(childPath, filepath.Join(realDir, name), childRel, childParts, levels); err != nil {
				return err
			}
		case typ&fs.ModeSymlink != 0:
			w.link(childPath, realDir, childRel, childParts, levels)
		case typ.IsRegular():
			if Sensitive(name) {
				w.skip(childRel, ReasonSensitive, nil)
				continue
			}
			if !w.send(job{rel: childRel, open: childPath}) {
				return fmt.Errorf("scan %s: %w", w.ig.root, w.ctx.Err())
			}
		default:
			w.skip(childRel, ReasonSpecial, fmt.Errorf("file mode %s", typ))
		}
	}
	return nil
}

func (w *walker) ignored(levels [][]gitignore.Pattern, parts []string, isDir bool) bool {
	return decide(w.ig.excludes, levels, w.ig.info.patterns, parts, isDir)
}

func (w *walker) send(j job) bool {
	select {
	case w.jobs <- j:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// link handles a symlink found at path (rel) in the real directory fromDir.
func (w *walker) link(path, fromDir, rel string, parts []string, levels [][]gitignore.Pattern) {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		if _, serr := os.Stat(path); serr != nil {
			err = serr // EvalSymlinks says "too many links" where stat says ELOOP
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			w.skip(rel, ReasonUnreadable, fmt.Errorf("dangling symlink: %w", err))
		case errors.Is(err, syscall.ELOOP):
			w.skip(rel, ReasonSymlinkLoop, err)
		default:
			w.skip(rel, ReasonUnreadable, err)
		}
		return
	}
	if !within(w.realRoot, target) {
		w.skip(rel, ReasonSymlinkOutside, fmt.Errorf("resolves to %s", target))
		return
	}
	fi, err := os.Stat(target)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.skip(rel, ReasonVanished, err)
		} else {
			w.skip(rel, ReasonUnreadable, err)
		}
		return
	}
	switch {
	case fi.IsDir():
		if w.ignored(levels, parts, true) {
			return // e.g. "build/" matches a link to a directory named build
		}
		w.deferred = append(w.deferred, dirLink{rel: rel, parts: parts, levels: levels, target: target, fromDir: fromDir})
	case fi.Mode().IsRegular():
		if Sensitive(rel) || Sensitive(target) {
			w.skip(rel, ReasonSensitive, nil)
			return
		}
		w.send(job{rel: rel, open: target}) // a cancelled ctx is noticed by the caller
	default:
		w.skip(rel, ReasonSpecial, fmt.Errorf("file mode %s", fi.Mode().Type()))
	}
}

// followLinks walks the deferred directory symlinks, and those found in
// them, once every real directory was walked.
func (w *walker) followLinks() error {
	for len(w.deferred) > 0 {
		l := w.deferred[0]
		w.deferred = w.deferred[1:]
		if within(l.target, l.fromDir) {
			w.skip(l.rel, ReasonSymlinkLoop, fmt.Errorf("leads to an ancestor, %s", w.relOf(l.target)))
			continue
		}
		if seen, ok := w.visited[l.target]; ok {
			w.skip(l.rel, ReasonSymlinkLoop, fmt.Errorf("leads to %q, already walked", seen))
			continue
		}
		if err := w.walk(l.target, l.target, l.rel, l.parts, l.levels); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) relOf(real string) string {
	r, err := filepath.Rel(w.realRoot, real)
	if err != nil || r == "." {
		return "the root"
	}
	return fmt.Sprintf("%q", filepath.ToSlash(r))
}

// within reports whether p is dir or below it (both clean and absolute).
func within(dir, p string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

// hashed is what one hashing goroutine produced.
type hashed struct {
	files []File
	skips []Skip
}

// hashAll opens and hashes jobs until the channel closes.
func (w *walker) hashAll() hashed {
	var out hashed
	buf := make([]byte, 64<<10)
	for j := range w.jobs {
		if w.ctx.Err() != nil {
			continue // drain so the walker never blocks
		}
		f, s := w.hashOne(j, buf)
		if s != nil {
			out.skips = append(out.skips, *s)
		} else {
			out.files = append(out.files, f)
		}
	}
	return out
}

func (w *walker) hashOne(j job, buf []byte) (File, *Skip) {
	if testHookBeforeOpen != nil {
		testHookBeforeOpen(j.rel)
	}
	skip := func(reason string, err error) (File, *Skip) {
		s := &Skip{Path: j.rel, Reason: reason}
		if err != nil {
			s.Detail = err.Error()
		}
		return File{}, s
	}
	// O_NOFOLLOW: a name replaced by a symlink since it was listed is not
	// followed; O_NONBLOCK: one replaced by a pipe does not hang the scan.
	f, err := os.OpenFile(j.open, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return skip(ReasonVanished, err)
		case errors.Is(err, syscall.ENXIO):
			return skip(ReasonSpecial, err)
		}
		return skip(ReasonUnreadable, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return skip(ReasonUnreadable, err)
	}
	if !fi.Mode().IsRegular() {
		return skip(ReasonSpecial, fmt.Errorf("file mode %s", fi.Mode().Type()))
	}
	if fi.Size() > w.max {
		return skip(ReasonTooLarge, fmt.Errorf("%d bytes, the cap is %d", fi.Size(), w.max))
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, io.LimitReader(f, w.max+1), buf)
	if err != nil {
		return skip(ReasonUnreadable, err)
	}
	if n > w.max {
		return skip(ReasonTooLarge, fmt.Errorf("grew past the cap of %d bytes while read", w.max))
	}
	file := File{Path: j.rel, Size: n, ModTime: fi.ModTime()}
	h.Sum(file.Hash[:0])
	return file, nil
}
