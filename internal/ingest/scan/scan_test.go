package scan

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostileTree is the content part of the hostile tree; links, the pipe,
// the socket and the deep path are made by TestScanHostile itself. No git
// repository: the built-ins must apply without one.
var hostileTree = map[string]string{
	".gitignore":           "*.tmp\n!keep.tmp\nout/\n!.env\n!id_rsa\n",
	".git/info/exclude":    "local.txt\n",
	".qfignore":            "generated/\n",
	"main.go":              "package main\n",
	"keep.tmp":             "kept by a negation",
	"drop.tmp":             "",
	"local.txt":            "",
	"out/bin.go":           "",
	"generated/g.go":       "",
	"real/a.go":            "package real\n",
	"real/sub/b.go":        "package sub\n",
	"real/.gitignore":      "*.go\n!a.go\n",
	"real/sub/.qfignore":   "!b.go\n",
	"real/sub/c.go":        "",
	"node_modules/x/i.js":  "",
	"pkg/vendor/v.go":      "",
	"pkg/__pycache__/m.py": "",
	".env":                 "SECRET=1",
	"id_rsa":               "-----BEGIN OPENSSH PRIVATE KEY-----",
	"certs/tls.pem":        "-----BEGIN CERTIFICATE-----",
	"with space.go":        "",
	"ünïcödé.go":           "",
	"new\nline.go":         "",
	"-leading-dash.go":     "",
	"exact.bin":            strings.Repeat("x", 100),
	"oversize.bin":         strings.Repeat("x", 101),
	"vanish.go":            "here when listed",
}

func TestScanHostile(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, hostileTree)
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"o.go": "", "d/x.go": ""})

	link := func(target, name string) {
		require.NoError(t, os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))))
	}
	link("..", "real/up")                            // a directory link to an ancestor
	link("../real", "pkg/alias")                     // a directory link to a directory walked anyway
	link("a.go", "real/link")                        // a file link inside the root: followed
	link(filepath.Join(outside, "o.go"), "out-file") // out of the root
	link(filepath.Join(outside, "d"), "out-dir")     // out of the root, a directory
	link("nowhere", "dangling")                      // dangling
	link("self", "self")                             // a link to itself: ELOOP
	link("id_rsa", "innocent.txt")                   // a link to a key is a key
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	l, err := net.Listen("unix", filepath.Join(root, "sock"))
	require.NoError(t, err)
	defer l.Close()
	deep := root
	for range 60 {
		deep = filepath.Join(deep, "d")
	}
	require.NoError(t, os.MkdirAll(deep, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(deep, "leaf.go"), []byte("deep"), 0o644))

	testHookBeforeOpen = func(rel string) {
		if rel == "vanish.go" {
			require.NoError(t, os.Remove(filepath.Join(root, rel)))
		}
	}
	defer func() { testHookBeforeOpen = nil }()

	res, err := Scan(context.Background(), Options{Root: root, MaxFileBytes: 100, Workers: 3})
	require.NoError(t, err)
	require.Equal(t, root, res.Root)

	var got []string
	for _, f := range res.Files {
		got = append(got, f.Path)
	}
	require.Equal(t, []string{
		"-leading-dash.go", ".gitignore", ".qfignore",
		strings.Repeat("d/", 60) + "leaf.go",
		"exact.bin", "keep.tmp", "main.go", "new\nline.go",
		"real/.gitignore", "real/a.go", "real/link", "real/sub/.qfignore", "real/sub/b.go",
		"with space.go", "ünïcödé.go",
	}, got)

	reasons := map[string]string{}
	for _, s := range res.Skipped {
		reasons[s.Path] = s.Reason
		require.NotEmpty(t, s.Reason, s.Path)
	}
	require.Equal(t, map[string]string{
		".env":          ReasonSensitive, // "!.env" does not bring it back
		"id_rsa":        ReasonSensitive,
		"certs/tls.pem": ReasonSensitive,
		"innocent.txt":  ReasonSensitive,
		"real/up":       ReasonSymlinkLoop,
		"pkg/alias":     ReasonSymlinkLoop,
		"self":          ReasonSymlinkLoop,
		"out-file":      ReasonSymlinkOutside,
		"out-dir":       ReasonSymlinkOutside,
		"dangling":      ReasonUnreadable,
		"fifo":          ReasonSpecial,
		"sock":          ReasonSpecial,
		"oversize.bin":  ReasonTooLarge,
		"vanish.go":     ReasonVanished,
	}, reasons)

	byPath := map[string]File{}
	for _, f := range res.Files {
		byPath[f.Path] = f
	}
	a := byPath["real/a.go"]
	require.Equal(t, sha256.Sum256([]byte("package real\n")), a.Hash)
	require.Equal(t, int64(len("package real\n")), a.Size)
	require.False(t, a.ModTime.IsZero())
	require.Equal(t, a.Hash, byPath["real/link"].Hash, "a link is listed with its target's content")
	require.Equal(t, sha256.Sum256([]byte(strings.Repeat("x", 100))), byPath["exact.bin"].Hash)
	details := map[string]string{}
	for _, s := range res.Skipped {
		details[s.Path] = s.Detail
	}
	require.Contains(t, details["dangling"], "dangling symlink")
	require.Contains(t, details["real/up"], "ancestor")
	require.Contains(t, details["pkg/alias"], `"real", already walked`)
	require.Contains(t, details["out-file"], outside)

	// The same tree under a caller's exclude: keep.tmp and the deep
	// directory go.
	res, err = Scan(context.Background(), Options{Root: root, Excludes: []string{"keep.tmp", "/d/"}})
	require.NoError(t, err)
	for _, f := range res.Files {
		require.NotEqual(t, "keep.tmp", f.Path)
		require.False(t, strings.HasPrefix(f.Path, "d/"), f.Path)
	}
}

func TestScanRootErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Scan(context.Background(), Options{Root: filepath.Join(dir, "missing")})
	require.ErrorIs(t, err, ErrNotExist)

	file := filepath.Join(dir, "f.go")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = Scan(context.Background(), Options{Root: file})
	require.ErrorIs(t, err, ErrNotDir)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Scan(ctx, Options{Root: dir})
	require.ErrorIs(t, err, context.Canceled)

	// Cancelled in the middle: the scan stops with the context's error,
	// not a partial result.
	for i := range 200 {
		writeTree(t, dir, map[string]string{filepath.Join("many", strings.Repeat("d", i%7+1), strconv.Itoa(i)+".go"): "x"})
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	testHookBeforeOpen = func(string) { cancel() }
	defer func() { testHookBeforeOpen = nil }()
	res, err := Scan(ctx, Options{Root: dir})
	require.ErrorIs(t, err, context.Canceled)
	require.Nil(t, res)
}

// TestScanUnreadable proves the permission-denied path for real: mode-000
// files mean nothing to root (the tests run as root here), so as root the
// scan runs in a subprocess as user nobody (setpriv), where a root-owned
// mode-600 file and mode-700 directory cannot be opened.
func TestScanUnreadable(t *testing.T) {
	base, err := os.MkdirTemp("", "qf-scan-unreadable-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	root := filepath.Join(base, "tree")
	writeTree(t, root, map[string]string{"ok.go": "ok", "secret.go": "no", "locked/x.go": "", "open/y.go": ""})
	require.NoError(t, os.Chmod(filepath.Join(root, "secret.go"), 0o000))
	require.NoError(t, os.Chmod(filepath.Join(root, "locked"), 0o000))
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked"), 0o755) })

	var res Result
	if os.Geteuid() != 0 {
		r, err := Scan(context.Background(), Options{Root: root})
		require.NoError(t, err)
		res = *r
	} else {
		// Root reads mode-000 files: the scan runs as nobody instead.
		setpriv, err := exec.LookPath("setpriv")
		require.NoError(t, err, "running as root, this test needs setpriv (Debian: util-linux) to scan as nobody")
		// The test binary may sit in a directory nobody cannot enter.
		exe, err := os.Executable()
		require.NoError(t, err)
		bin, err := os.ReadFile(exe)
		require.NoError(t, err)
		copyExe := filepath.Join(base, "scan.test")
		require.NoError(t, os.WriteFile(copyExe, bin, 0o755))
		cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
			copyExe, "-test.run=^TestScanUnreadableHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "QF_SCAN_UNREADABLE_ROOT="+root)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		line := ""
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "RESULT ") {
				line = strings.TrimPrefix(l, "RESULT ")
			}
		}
		require.NotEmpty(t, line, "%s", out)
		require.NoError(t, json.Unmarshal([]byte(line), &res))
	}

	var files []string
	for _, f := range res.Files {
		files = append(files, f.Path)
	}
	require.Equal(t, []string{"ok.go", "open/y.go"}, files)
	require.Len(t, res.Skipped, 2)
	for i, want := range []string{"locked", "secret.go"} {
		require.Equal(t, want, res.Skipped[i].Path)
		require.Equal(t, ReasonUnreadable, res.Skipped[i].Reason)
		require.Contains(t, res.Skipped[i].Detail, "permission denied")
	}
}

// TestScanUnreadableHelper is TestScanUnreadable's subprocess.
func TestScanUnreadableHelper(t *testing.T) {
	root := os.Getenv("QF_SCAN_UNREADABLE_ROOT")
	if root == "" {
		t.Skip("only run by TestScanUnreadable")
	}
	res, err := Scan(context.Background(), Options{Root: root})
	require.NoError(t, err)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	os.Stdout.WriteString("RESULT " + string(b) + "\n")
}
