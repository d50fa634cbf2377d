package scan

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// builtinDirs are directory names that are never walked, inside a git
// repository or not: version-control metadata, dependency trees that belong
// to other projects, and tool caches. Git itself never lists them, or a
// project's .gitignore almost always does; listing them here makes a scan
// of a tarball or a plain directory behave the same. The names match a
// directory at any depth; a negation in an ignore file does not bring one
// back.
var builtinDirs = map[string]bool{
	".git": true, ".hg": true, ".svn": true, ".bzr": true, "_darcs": true, ".jj": true, "CVS": true,
	"node_modules": true, "vendor": true, "bower_components": true,
	"__pycache__": true, ".venv": true, ".tox": true, ".nox": true,
	".mypy_cache": true, ".pytest_cache": true, ".ruff_cache": true,
	".idea": true, ".gradle": true, ".terraform": true,
}

// builtinFiles are file names that are never listed: ".git" is a file in a
// worktree or a submodule (it holds "gitdir: ..."), and .DS_Store is
// Finder's.
var builtinFiles = map[string]bool{".git": true, ".DS_Store": true}

// IgnoreFileNames are the per-directory ignore files, in the order they are
// read: a directory's .qfignore takes precedence over its .gitignore.
var IgnoreFileNames = []string{".gitignore", ".qfignore"}

// BuiltinIgnored reports whether name (one path component) is ignored by
// the built-in rules, which apply at any depth and cannot be negated.
func BuiltinIgnored(name string, isDir bool) bool {
	if isDir {
		return builtinDirs[name]
	}
	return builtinFiles[name]
}

// Ignorer decides which paths under a root the ignore rules leave out: the
// built-in names, .git/info/exclude at the root, a .gitignore and a
// .qfignore in every directory (patterns relative to that directory, git's
// precedence: a deeper file wins over a shallower one, a later line over an
// earlier one, .qfignore over the .gitignore beside it), and the caller's
// excludes, which win over all the files. Parent directories outside the
// root and the user's global excludes file are not read, so the result does
// not depend on the machine.
//
// An Ignorer re-reads a directory's ignore files when their size or
// modification time has changed since it last read them (it stats them on
// every call of Ignored), so a long-lived Ignorer, such as a watcher's,
// follows edits without being told. It is safe for concurrent use.
type Ignorer struct {
	root     string
	excludes []gitignore.Pattern

	mu   sync.Mutex
	info *ruleSet            // .git/info/exclude
	dirs map[string]*ruleSet // by directory relative to the root, "" for the root
}

// ruleSet is the patterns read from one directory's ignore files, with the
// stamps of those files to notice a change.
type ruleSet struct {
	patterns []gitignore.Pattern
	stamps   []stamp
}

type stamp struct {
	size  int64
	mtime time.Time
	ok    bool // the file existed
}

// NewIgnorer returns an Ignorer for root with the extra gitignore-style
// excludes, relative to root. It fails if root is not a directory (wrapping
// ErrNotExist or ErrNotDir) or if .git/info/exclude exists but cannot be
// read.
func NewIgnorer(root string, excludes []string) (*Ignorer, error) {
	abs, err := checkRoot(root)
	if err != nil {
		return nil, err
	}
	ig := &Ignorer{root: abs, excludes: parseLines(excludes, nil), dirs: map[string]*ruleSet{}}
	if ig.info, err = loadRuleSet(filepath.Join(abs, ".git", "info"), []string{"exclude"}, nil); err != nil {
		return nil, err
	}
	return ig, nil
}

// Ignored reports whether rel, a path relative to the root with /
// separators, is ignored, either itself or because a directory above it
// is. isDir says whether rel is a directory (directory-only patterns such
// as "build/" match only then). An ignore file that cannot be read counts
// as empty.
func (ig *Ignorer) Ignored(rel string, isDir bool) bool {
	rel = strings.Trim(filepath.ToSlash(rel), "/")
	if rel == "" || rel == "." {
		return false
	}
	parts := strings.Split(rel, "/")
	ig.mu.Lock()
	defer ig.mu.Unlock()
	ig.refresh(&ig.info, filepath.Join(ig.root, ".git", "info"), []string{"exclude"}, nil)
	levels := make([][]gitignore.Pattern, 0, len(parts))
	for i := range parts {
		dirRel := strings.Join(parts[:i], "/")
		rs := ig.dirs[dirRel]
		ig.refresh(&rs, filepath.Join(ig.root, filepath.FromSlash(dirRel)), IgnoreFileNames, parts[:i])
		ig.dirs[dirRel] = rs
		levels = append(levels, rs.patterns)
		last := i == len(parts)-1
		d := isDir || !last
		if BuiltinIgnored(parts[i], d) || decide(ig.excludes, levels, ig.info.patterns, parts[:i+1], d) {
			return true
		}
	}
	return false
}

// Match is Ignored in the form watch.Options.Ignore takes: a directory is
// given with a trailing /.
func (ig *Ignorer) Match(rel string) bool {
	return ig.Ignored(rel, strings.HasSuffix(rel, "/"))
}

// refresh (re)loads *rs from the files in dir when they changed; ig.mu is
// held.
func (ig *Ignorer) refresh(rs **ruleSet, dir string, names []string, domain []string) {
	if *rs != nil && !(*rs).stale(dir, names) {
		return
	}
	fresh, err := loadRuleSet(dir, names, domain)
	if err != nil {
		fresh = &ruleSet{stamps: stampsOf(dir, names)}
	}
	*rs = fresh
}

func (rs *ruleSet) stale(dir string, names []string) bool {
	now := stampsOf(dir, names)
	for i := range now {
		if now[i] != rs.stamps[i] {
			return true
		}
	}
	return false
}

func stampsOf(dir string, names []string) []stamp {
	out := make([]stamp, len(names))
	for i, n := range names {
		if fi, err := os.Lstat(filepath.Join(dir, n)); err == nil && fi.Mode().IsRegular() {
			out[i] = stamp{size: fi.Size(), mtime: fi.ModTime(), ok: true}
		}
	}
	return out
}

// loadRuleSet reads the ignore files names in dir, in order, as patterns of
// domain (dir's components relative to the root). A missing file is empty;
// any other read error is returned.
func loadRuleSet(dir string, names []string, domain []string) (*ruleSet, error) {
	rs := &ruleSet{stamps: make([]stamp, len(names))}
	for i, n := range names {
		p := filepath.Join(dir, n)
		fi, err := os.Lstat(p) // like git, a symlinked ignore file is not read
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read ignore file %s: %w", p, err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read ignore file %s: %w", p, err)
		}
		rs.stamps[i] = stamp{size: fi.Size(), mtime: fi.ModTime(), ok: true}
		rs.patterns = append(rs.patterns, parseFile(b, domain)...)
	}
	return rs, nil
}

// parseFile parses the content of one ignore file.
func parseFile(b []byte, domain []string) []gitignore.Pattern {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return parseLines(strings.Split(string(b), "\n"), domain)
}

// parseLines parses gitignore lines relative to domain, skipping blank
// lines and comments.
func parseLines(lines []string, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ps = append(ps, parsePattern(l, domain))
	}
	return ps
}

// parsePattern parses one gitignore line with go-git's parser after
// smoothing over the places where go-git's matching differs from git's
// (each one checked against git check-ignore in the tests):
//
//   - "[!a-z]": git negates a bracket expression with ! as well as ^,
//     path/filepath.Match only with ^.
//   - "**" that is not a whole component ("foo**", "**.txt") is an ordinary
//     "*" in git; go-git's glob matcher rejects it.
//   - "dir/**" matches everything inside dir but not dir itself in git, so
//     "!dir/keep" can bring a file back; go-git also matches dir.
func parsePattern(line string, domain []string) gitignore.Pattern {
	line = bangClass(line)
	body := strings.TrimPrefix(line, "!")
	comps := strings.Split(strings.TrimSuffix(body, "/"), "/")
	for i, c := range comps {
		if c != "**" && strings.Contains(c, "**") {
			for strings.Contains(c, "**") {
				c = strings.ReplaceAll(c, "**", "*")
			}
			comps[i] = c
		}
	}
	fixed := strings.Join(comps, "/")
	if strings.HasSuffix(body, "/") {
		fixed += "/"
	}
	if strings.HasPrefix(line, "!") {
		fixed = "!" + fixed
	}
	p := gitignore.ParsePattern(fixed, domain)
	if n := len(comps); n > 1 && comps[n-1] == "**" && !strings.HasSuffix(body, "/") {
		// The components before "**", less a leading empty one ("/dir/**").
		before := n - 1
		if comps[0] == "" {
			before--
		}
		return insideOnly{Pattern: p, min: len(domain) + before}
	}
	return p
}

// bangClass rewrites "[!" to "[^" outside escapes.
func bangClass(s string) string {
	if !strings.Contains(s, "[!") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			b.WriteByte(s[i])
			b.WriteByte(s[i+1])
			i++
			continue
		}
		if s[i] == '[' && i+1 < len(s) && s[i+1] == '!' {
			b.WriteString("[^")
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// insideOnly is a "dir/**" pattern: it matches only paths strictly below
// the min components it names.
type insideOnly struct {
	gitignore.Pattern
	min int
}

func (p insideOnly) Match(path []string, isDir bool) gitignore.MatchResult {
	if len(path) <= p.min {
		return gitignore.NoMatch
	}
	return p.Pattern.Match(path, isDir)
}

// decide applies git's precedence to path (components relative to the
// root): the excludes first, then the directories' patterns from the
// deepest level up, then .git/info/exclude; within each list the last
// matching pattern decides.
func decide(excludes []gitignore.Pattern, levels [][]gitignore.Pattern, info []gitignore.Pattern, path []string, isDir bool) bool {
	if r := lastMatch(excludes, path, isDir); r != gitignore.NoMatch {
		return r == gitignore.Exclude
	}
	for i := len(levels) - 1; i >= 0; i-- {
		if r := lastMatch(levels[i], path, isDir); r != gitignore.NoMatch {
			return r == gitignore.Exclude
		}
	}
	return lastMatch(info, path, isDir) == gitignore.Exclude
}

func lastMatch(ps []gitignore.Pattern, path []string, isDir bool) gitignore.MatchResult {
	for i := len(ps) - 1; i >= 0; i-- {
		if r := ps[i].Match(path, isDir); r != gitignore.NoMatch {
			return r
		}
	}
	return gitignore.NoMatch
}
