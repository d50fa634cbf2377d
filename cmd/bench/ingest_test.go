package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// TestIngestSmoke runs bench ingest --smoke on a tiny tree (one worker, the
// real worker binary built from this module) and checks the JSON report:
// every phase ran and the unchanged re-ingest is the 3-node run. It checks
// no speed.
func TestIngestSmoke(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := map[string]string{
		"greet/greet.go":      "package greet\n\n// Hello says hello.\nfunc Hello(name string) string { return \"hello \" + name }\n",
		"greet/greet_test.go": "package greet\n\nimport \"testing\"\n\nfunc TestHello(t *testing.T) { _ = Hello(\"x\") }\n",
		"net/http/server.go":  "package http\n\n// ServeHTTP parses http request headers.\nfunc ServeHTTP() {}\n\nfunc NewReader() {}\n",
		"README.md":           "# tiny\n\nA tree for bench ingest's smoke test: gzip compression writer.\n",
	}
	for p, content := range files {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run([]string{"ingest", "--database-url", pgtest.ServerURL(), "--smoke", "--ingest-root", root, "-o", "json"}, &stdout, &stderr)
	t.Logf("ingest smoke run: %s\nstderr:\n%s", time.Since(start).Round(time.Millisecond), stderr.String())
	require.Equal(t, 0, code, "stderr:\n%s", stderr.String())

	var rep IngestReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), "stdout:\n%s", stdout.String())
	require.Equal(t, 1, rep.Workers)
	require.Equal(t, len(files), rep.TreeFiles)
	require.NotEmpty(t, rep.LoadStart)
	require.Equal(t, "completed", rep.Full.Status)
	require.Equal(t, len(files), rep.Full.Files.New+rep.Full.Files.Skipped)
	require.Greater(t, rep.Full.Nodes, 3)
	require.Positive(t, rep.Full.WallSeconds)
	require.Equal(t, 3, rep.Unchanged.Nodes)
	require.Equal(t, len(files), rep.Unchanged.Files.Unchanged+rep.Unchanged.Files.Skipped)
	require.Len(t, rep.Edits, ingestEditsDefault)
	for _, e := range rep.Edits {
		require.Equal(t, "completed", e.NotificationStatus)
		require.Positive(t, e.SearchableSeconds)
		require.GreaterOrEqual(t, e.SearchableSeconds, e.NotifySeconds)
	}
	require.Len(t, rep.Search, len(querySets))
	for _, s := range rep.Search {
		require.Equal(t, s.Queries, s.Calls, s.Mode)
		require.Positive(t, s.P95ms, s.Mode)
	}
	require.Positive(t, rep.Index.TotalBytes)
	require.Positive(t, rep.Index.StoredFileBytes)
	require.NotEmpty(t, rep.Index.Relations)
	require.Positive(t, rep.Anchor.WallSeconds)
	require.Equal(t, rep.Full.Files.New, rep.Anchor.Files)
	require.Positive(t, rep.FullOverAnchor)
	require.NotEmpty(t, rep.Goals)
}
