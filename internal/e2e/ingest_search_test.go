// End-to-end tests of what ingestion stored, through the CLI: search finds
// a symbol, a substring and a natural-language query; an edit, a removal
// and a rename show in history and search; watch picks up an edit.

package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/syncio"
)

// searchResult is one result of `enqueue search -o json`.
type searchResult struct {
	Path      string  `json:"path"`
	StartLine int     `json:"start_line"`
	EndLine   int     `json:"end_line"`
	Symbol    *string `json:"symbol"`
	Kind      *string `json:"kind"`
	Language  string  `json:"language"`
	Score     float64 `json:"score"`
	Snippet   string  `json:"snippet"`
}

func (e *env) search(t *testing.T, args ...string) []searchResult {
	t.Helper()
	res := e.enqueue(append([]string{"search", "-o", "json"}, args...)...)
	require.Equal(t, 0, res.code, "%s", res)
	var out struct {
		Results []searchResult `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), "%s", res)
	return out.Results
}

// hasSymbol reports whether a result is the symbol name in file path.
func hasSymbol(rs []searchResult, path, name string) bool {
	for _, r := range rs {
		if r.Path == path && r.Symbol != nil && *r.Symbol == name {
			return true
		}
	}
	return false
}

type historyEntry struct {
	Hash     *string `json:"hash"`
	Change   string  `json:"change"`
	Run      string  `json:"run"`
	At       string  `json:"at"`
	FromPath string  `json:"from_path"`
}

func (e *env) history(t *testing.T, codebase, path string) []historyEntry {
	t.Helper()
	res := e.enqueue("history", "--codebase", codebase, "-o", "json", path)
	require.Equal(t, 0, res.code, "%s", res)
	var out []historyEntry
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), "%s", res)
	return out
}

func changes(h []historyEntry) []string {
	out := make([]string, len(h))
	for i, v := range h {
		out[i] = v.Change
	}
	return out
}

func (e *env) ingestWait(t *testing.T, tree, codebase string) {
	t.Helper()
	res := e.enqueue("ingest", "--wait", "--codebase", codebase, "-o", "json", tree)
	require.Equal(t, 0, res.code, "%s", res)
}

const requestGo = `package web

// parseHTTPRequest reads a request line and its headers.
func parseHTTPRequest(line string) (string, error) {
	return line, nil
}
`

const utilGo = `package web

// ReverseString reverses s.
func ReverseString(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
`

const configPy = `def load_config(path):
    """Read the configuration file at path."""
    with open(path) as f:
        return f.read()
`

// TestIngestSearchEndToEnd: after an ingest, search finds a symbol, a
// substring and a natural-language query; an edit, a removal and a rename
// each show in history and in search.
func TestIngestSearchEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startWorker(t)
	tree := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(tree, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("web/request.go", requestGo)
	write("web/util.go", utilGo)
	write("tools/config.py", configPy)
	e.ingestWait(t, tree, "e2e")

	// A symbol, by exact name and with a typo.
	rs := e.search(t, "--codebase", "e2e", "--mode", "symbol", "parseHTTPRequest")
	require.True(t, hasSymbol(rs[:1], "web/request.go", "parseHTTPRequest"), "%+v", rs)
	require.Equal(t, 4, rs[0].StartLine)
	rs = e.search(t, "--codebase", "e2e", "--mode", "symbol", "ReverseStrnig")
	require.True(t, hasSymbol(rs, "web/util.go", "ReverseString"), "%+v", rs)
	// A substring inside an identifier.
	rs = e.search(t, "--codebase", "e2e", "--mode", "text", "HTTPReq")
	require.NotEmpty(t, rs)
	require.Equal(t, "web/request.go", rs[0].Path)
	require.Contains(t, rs[0].Snippet, "parseHTTPRequest")
	// A natural-language query, in every mode that ranks text.
	for _, mode := range []string{"text", "semantic", "hybrid"} {
		rs = e.search(t, "--codebase", "e2e", "--mode", mode, "parse http request")
		require.NotEmpty(t, rs, mode)
		require.Equal(t, "web/request.go", rs[0].Path, "mode %s: %+v", mode, rs)
	}
	// --lang and --path.
	rs = e.search(t, "--codebase", "e2e", "--lang", "python", "config")
	require.NotEmpty(t, rs)
	for _, r := range rs {
		require.Equal(t, "python", r.Language)
	}
	rs = e.search(t, "--codebase", "e2e", "--path", "web/**", "load config")
	for _, r := range rs {
		require.True(t, strings.HasPrefix(r.Path, "web/"), r.Path)
	}

	// An edit: a new version in history, the new symbol found, the old gone.
	write("web/util.go", strings.ReplaceAll(utilGo, "ReverseString", "ReverseRunes"))
	e.ingestWait(t, tree, "e2e")
	require.Equal(t, []string{"added", "modified"}, changes(e.history(t, "e2e", "web/util.go")))
	rs = e.search(t, "--codebase", "e2e", "--mode", "symbol", "ReverseRunes")
	require.True(t, hasSymbol(rs[:1], "web/util.go", "ReverseRunes"), "%+v", rs)
	rs = e.search(t, "--codebase", "e2e", "--mode", "symbol", "ReverseString")
	require.False(t, hasSymbol(rs, "web/util.go", "ReverseString"), "the old symbol is gone: %+v", rs)

	// A removal.
	require.NoError(t, os.Remove(filepath.Join(tree, "tools/config.py")))
	e.ingestWait(t, tree, "e2e")
	h := e.history(t, "e2e", "tools/config.py")
	require.Equal(t, []string{"added", "removed"}, changes(h))
	rs = e.search(t, "--codebase", "e2e", "--mode", "symbol", "load_config")
	require.False(t, hasSymbol(rs, "tools/config.py", "load_config"), "%+v", rs)

	// A rename (same content, new path).
	require.NoError(t, os.Rename(filepath.Join(tree, "web/request.go"), filepath.Join(tree, "web/http_request.go")))
	e.ingestWait(t, tree, "e2e")
	h = e.history(t, "e2e", "web/http_request.go")
	require.Equal(t, "renamed", h[len(h)-1].Change, "%+v", h)
	require.Equal(t, "web/request.go", h[len(h)-1].FromPath)
	rs = e.search(t, "--codebase", "e2e", "--mode", "symbol", "parseHTTPRequest")
	require.True(t, hasSymbol(rs[:1], "web/http_request.go", "parseHTTPRequest"), "%+v", rs)
	require.False(t, hasSymbol(rs, "web/request.go", "parseHTTPRequest"), "%+v", rs)

	// codebases lists it with its last run.
	res := e.enqueue("codebases", "-o", "json")
	require.Equal(t, 0, res.code, "%s", res)
	var cbs []struct {
		Name    string `json:"name"`
		Files   int    `json:"files"`
		LastRun *struct {
			Status string `json:"status"`
		} `json:"last_run"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &cbs))
	require.Len(t, cbs, 1)
	require.Equal(t, "e2e", cbs[0].Name)
	require.Equal(t, 2, cbs[0].Files)
	require.Equal(t, "completed", cbs[0].LastRun.Status)
}

// TestWatchPicksUpEdit: `enqueue watch` ingests at start, then an edit is
// ingested by the next run and found by search; Ctrl-C ends it with 0.
func TestWatchPicksUpEdit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startWorker(t)
	tree := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(tree, "a.go"), []byte(utilGo), 0o644))

	cmd := exec.Command(enqueueBin, "watch", "--codebase", "w", "--debounce", "200ms", "-o", "json", tree)
	cmd.Dir = moduleRoot
	cmd.Env = append(baseEnv(), "DATABASE_URL="+e.URL)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncio.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("watch stderr:\n%s", stderr.String())
		}
	})
	next := func(what string) map[string]any {
		t.Helper()
		select {
		case l, ok := <-lines:
			require.True(t, ok, "watch exited before %s: %s", what, stderr.String())
			var n map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &n), l)
			return n
		case <-time.After(60 * time.Second):
			t.Fatalf("no notification for %s within 60s: %s", what, stderr.String())
			return nil
		}
	}
	n := next("the first ingest")
	require.Equal(t, "completed", n["status"], "%v", n)
	require.Equal(t, "w", n["codebase"])

	edited := time.Now()
	require.NoError(t, os.WriteFile(filepath.Join(tree, "a.go"), []byte(strings.ReplaceAll(utilGo, "ReverseString", "WatchedReverse")), 0o644))
	n = next("the edit")
	require.Equal(t, "completed", n["status"], "%v", n)
	rs := e.search(t, "--codebase", "w", "--mode", "symbol", "WatchedReverse")
	require.True(t, hasSymbol(rs, "a.go", "WatchedReverse"), "%+v", rs)
	t.Logf("edit to searchable: %s (goal ≤ 2s)", time.Since(edited).Round(time.Millisecond))

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	for range lines {
	}
	require.NoError(t, <-exited, "Ctrl-C ends watch with exit 0")
}
