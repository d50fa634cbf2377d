package scan

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeTree creates files under root: a key ending in / is a directory, any
// other key a file with the value as content.
func writeTree(t *testing.T, root string, tree map[string]string) {
	t.Helper()
	for p, content := range tree {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			require.NoError(t, os.MkdirAll(full, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
}

// gitTree is a tree with nested ignore files exercising git's semantics;
// every pattern here is checked against git itself.
var gitTree = map[string]string{
	".gitignore": strings.Join([]string{
		"# a comment",
		"*.log",
		"!keep.log",
		"/build/",
		"docs/*.tmp",
		"**/gen/**",
		"!**/gen/keep.go",
		"foo**bar",
		"[!a]x.txt",
		"tmp/",
		`\#hash`,
		"trailing-space.txt   ",
		"a/**/z.txt",
		"logs/",
		"!logs/important.log",
		"/*.md",
		"!/README.md",
		"**/cache",
		"?.tmp",
		"x/**.gen",
		"",
		"crlf.txt\r",
	}, "\n"),
	".git/info/exclude": "secret-notes.txt\n*.bak\n",

	"a.log": "", "keep.log": "", "b.go": "", "build/x.go": "", "sub/build/y.go": "",
	"docs/a.tmp": "", "docs/sub/b.tmp": "", "x/gen/a.go": "", "x/gen/keep.go": "", "x/gen/deeper/k.go": "",
	"fooXbar": "", "foobar": "", "foo-bar.go": "", "bx.txt": "", "ax.txt": "",
	"tmp/t.go": "", "sub/tmp": "", "#hash": "", "trailing-space.txt": "", "crlf.txt": "",
	"a/z.txt": "", "a/b/c/z.txt": "", "b/a/z.txt": "", "secret-notes.txt": "", "q.bak": "",
	"logs/important.log": "", "logs/x.go": "", "NOTES.md": "", "README.md": "", "docs/guide.md": "",
	"cache": "", "p/cache/c.go": "", "z.tmp": "", "zz.tmp": "", "x/a.gen": "", "x/sub/b.gen": "",
	"with space.go": "", "ünï cödé.go": "", "-leading-dash.go": "",

	"sub/.gitignore": "*.go\n!main.go\n/only-here.txt\ndeep/\n",
	"sub/main.go":    "", "sub/util.go": "", "sub/only-here.txt": "", "sub/x/only-here.txt": "",
	"sub/deep/f.txt": "", "sub/x/deep/f.txt": "",

	"sub/x/.gitignore": "!util.go\n*.txt\n",
	"sub/x/util.go":    "", "sub/x/other.go": "", "sub/x/n.txt": "",

	// Built-ins and security defaults, which git does not know about.
	"node_modules/lib/index.js": "", "pkg/vendor/v.go": "", "pkg/ok.go": "", ".hg/store": "",
	"__pycache__/m.pyc": "", "conf/.env": "", "id_rsa": "", "certs/server.pem": "", ".env.local": "",
}

func gitEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
}

func runGit(t *testing.T, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(t.TempDir())
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 && args[0] == "check-ignore" {
		return out // exit status 1: nothing is ignored
	}
	require.NoError(t, err, "git %v: %s", args, stderr.String())
	return out
}

func splitZ(b []byte) []string {
	var out []string
	for _, s := range strings.Split(string(b), "\x00") {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// TestScanMatchesGit is the proof of the gitignore semantics: a scan keeps
// exactly what git ls-files --others --exclude-standard lists, less the
// built-in directories and the security defaults (which are Skips).
func TestScanMatchesGit(t *testing.T) {
	_, err := exec.LookPath("git")
	require.NoError(t, err, "this test compares the scan with git: install git (Debian: apt-get install git)")
	root := t.TempDir()
	runGit(t, root, nil, "init", "-q")
	writeTree(t, root, gitTree)
	// A symlinked .gitignore is not read (git opens them with O_NOFOLLOW).
	writeTree(t, root, map[string]string{"lnk/ignored-if-followed.go": "", "lnk/b.txt": ""})
	require.NoError(t, os.Symlink("../sub/.gitignore", filepath.Join(root, "lnk/.gitignore")))

	var want, wantSensitive []string
	for _, p := range splitZ(runGit(t, root, nil, "ls-files", "-z", "--others", "--exclude-standard")) {
		builtin := false
		parts := strings.Split(p, "/")
		for i, c := range parts {
			builtin = builtin || BuiltinIgnored(c, i < len(parts)-1)
		}
		switch {
		case builtin:
		case Sensitive(p):
			wantSensitive = append(wantSensitive, p)
		default:
			want = append(want, p)
		}
	}
	require.Contains(t, want, "x/gen/keep.go", "the tree must exercise dir/** with a negation")
	require.NotContains(t, want, "logs/important.log")
	require.Contains(t, want, "x/sub/b.gen")
	require.Contains(t, want, "lnk/ignored-if-followed.go")
	require.NotContains(t, want, "x/a.gen")

	res, err := Scan(context.Background(), Options{Root: root})
	require.NoError(t, err)
	var got, gotSensitive []string
	for _, f := range res.Files {
		got = append(got, f.Path)
	}
	for _, s := range res.Skipped {
		require.Equal(t, ReasonSensitive, s.Reason, s.Path)
		gotSensitive = append(gotSensitive, s.Path)
	}
	require.Equal(t, want, got)
	require.Equal(t, wantSensitive, gotSensitive)
	require.Equal(t, []string{".env.local", "certs/server.pem", "conf/.env", "id_rsa"}, gotSensitive)

	// Ignorer against git check-ignore, path by path, directories
	// included (git check-ignore also reports a path under an ignored
	// directory as ignored).
	ig, err := NewIgnorer(root, nil)
	require.NoError(t, err)
	var paths []string
	isDir := map[string]bool{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		rel = filepath.ToSlash(rel)
		paths = append(paths, rel)
		isDir[rel] = d.IsDir()
		return nil
	}))
	ignoredByGit := map[string]bool{}
	for _, p := range splitZ(runGit(t, root, []byte(strings.Join(paths, "\x00")), "check-ignore", "-z", "--stdin")) {
		ignoredByGit[p] = true
	}
	for _, p := range paths {
		builtin := false
		for _, c := range strings.Split(p, "/") {
			builtin = builtin || BuiltinIgnored(c, true)
		}
		if builtin {
			continue
		}
		require.Equal(t, ignoredByGit[p], ig.Ignored(p, isDir[p]), "path %q (dir %v)", p, isDir[p])
	}
}

func TestIgnorer(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		".gitignore":        "*.out\n",
		".qfignore":         "big/\n!keep.out\n",
		"a/.qfignore":       "*.txt\n",
		"a/.gitignore":      "!x.txt\n", // the .qfignore beside it wins
		".git/info/exclude": "local/\n",
	})
	ig, err := NewIgnorer(root, []string{"*.gen.go", "!a/keep.gen.go"})
	require.NoError(t, err)

	for _, tt := range []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"x.out", false, true},
		{"keep.out", false, false},    // .qfignore negation over .gitignore
		{"big", true, true},           // directory-only pattern
		{"big", false, false},         // ... does not match a file
		{"big/inner.go", false, true}, // under an ignored directory
		{"a/x.txt", false, true},
		{"a/b/y.txt", false, true},
		{"local/n.go", false, true}, // .git/info/exclude
		{"z.gen.go", false, true},   // caller's excludes
		{"a/keep.gen.go", false, false},
		{"node_modules", true, true},
		{"src/vendor/x.go", false, true},
		{".git", false, true},
		{".git/config", false, true},
		{"main.go", false, false},
		{"", true, false},
	} {
		require.Equal(t, tt.want, ig.Ignored(tt.rel, tt.isDir), "%q dir=%v", tt.rel, tt.isDir)
	}
	require.True(t, ig.Match("big/"))
	require.False(t, ig.Match("big"))

	// An edited ignore file is re-read on the next call.
	require.False(t, ig.Ignored("main.go", false))
	require.NoError(t, os.WriteFile(filepath.Join(root, ".gitignore"), []byte("*.out\nmain.go\n"), 0o644))
	require.True(t, ig.Ignored("main.go", false))
	// A new one in a directory too.
	require.False(t, ig.Ignored("c/d.go", false))
	writeTree(t, root, map[string]string{"c/.qfignore": "d.go\n"})
	require.True(t, ig.Ignored("c/d.go", false))
	// And a removed one.
	require.NoError(t, os.Remove(filepath.Join(root, "c/.qfignore")))
	require.False(t, ig.Ignored("c/d.go", false))
	// Same size, new content: the modification time tells.
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.WriteFile(filepath.Join(root, "a/.qfignore"), []byte("*.md\n"), 0o644))
	require.NoError(t, os.Chtimes(filepath.Join(root, "a/.qfignore"), old, old))
	require.True(t, ig.Ignored("a/r.md", false))
	require.False(t, ig.Ignored("a/r.txt", false))

	_, err = NewIgnorer(filepath.Join(root, "missing"), nil)
	require.ErrorIs(t, err, ErrNotExist)
}

func TestSensitive(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{".env", true}, {"a/b/.env", true}, {".env.production", true}, {".ENV", true},
		{"id_rsa", true}, {"id_rsa.pub", true}, {"id_ed25519_work", true}, {"id_ecdsa", true},
		{"server.pem", true}, {"tls.KEY", true}, {"store.p12", true}, {"a.pfx", true}, {"k.jks", true},
		{"x.keystore", true}, {"ca.crt", true}, {"ca.cer", true}, {"ca.der", true},
		{".netrc", true}, {".npmrc", true}, {".pypirc", true}, {"credentials.json", true},
		{"env.go", false}, {"environment.md", false}, {"keys.go", false}, {"id.go", false},
		{"main.go", false}, {"key.txt", false}, {"README.md", false}, {".envoy.yaml", false},
	} {
		require.Equal(t, tt.want, Sensitive(tt.name), tt.name)
	}
}
