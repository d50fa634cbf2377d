package ingest_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/ingest/lang"
	"github.com/quantumflow/quantumflow/internal/ingest/parse"
	"github.com/quantumflow/quantumflow/internal/ingest/scan"
	ingestjobs "github.com/quantumflow/quantumflow/jobs/ingest"
)

// Whether the other helpers' packages are merged (on the pipeline's branch
// they are skeletons): assertions that need their real answers run only
// then.
var (
	parseReal = parse.Supported("go")
	langReal  = lang.Detect("a.go", []byte("package a\n")) != ""
)

const (
	goMain = `package main

import (
	"context"
	"fmt"

	"example.com/m/util"
)

// main greets.
func main() {
	fmt.Println(util.Hello("world"))
}
`
	goUtil = `// Package util helps.
package util

// Hello returns a greeting.
func Hello(name string) string { return "hello " + name }

// Greeter greets by name.
type Greeter struct{ Name string }

// Greet greets.
func (g *Greeter) Greet() string { return Hello(g.Name) }
`
	pyLib = `import os.path
from .helpers import slugify


class Store:
    """A store."""

    def get(self, key):
        return os.path.join(key)


def make_store():
    return Store()
`
	tsApp = `import { greet } from "./greet";

export interface Options {
  name: string;
}

export function run(o: Options): string {
  return greet(o.name);
}
`
)

func TestIngestTree(t *testing.T) {
	e := newEnv(t, ingestjobs.Config{MaxFileBytes: 4096})
	next := listen(t, e.db)
	root := writeTree(t, map[string]string{
		"go.mod":          "module example.com/m\n\ngo 1.22\n",
		"main.go":         goMain,
		"util/util.go":    goUtil,
		"lib/store.py":    pyLib,
		"web/app.ts":      tsApp,
		"README.md":       "# Demo\n\nA small tree.\n",
		"big.txt":         strings.Repeat("x", 5000) + "\n",
		"bin.dat":         "\x00\x01\x02\x03binary\x00",
		"bad.txt":         "ok \xff\xfe not utf-8\n",
		"locked.txt":      "secret\n",
		"sub/.gitignore":  "ignored.txt\n",
		"sub/ignored.txt": "never ingested\n",
		"sub/kept.txt":    "kept\n",
	})
	require.NoError(t, os.Symlink(".", filepath.Join(root, "sub", "loop")))
	require.NoError(t, os.Chmod(filepath.Join(root, "locked.txt"), 0))

	run, state := e.ingest(ingest.Options{Path: root, Codebase: "demo"})
	require.Equal(t, flowtype.WorkflowCompleted, state)
	n := next(run.ID)
	require.Equal(t, run.ID, n.Run)
	require.Equal(t, "demo", n.Codebase)
	require.Equal(t, ingest.StatusCompleted, n.Status)
	require.Zero(t, n.Failed)

	files := map[string]string{} // path → skip reason ("" when ingested)
	for _, r := range e.query(`SELECT path, coalesce(skip_reason, '') AS skip FROM qf_code_file ORDER BY path`) {
		files[r["path"].(string)] = r["skip"].(string)
	}
	for _, p := range []string{"go.mod", "main.go", "util/util.go", "lib/store.py", "web/app.ts", "README.md", "sub/kept.txt"} {
		require.Contains(t, files, p)
		require.Empty(t, files[p], "%s is ingested", p)
	}
	require.Equal(t, scan.ReasonTooLarge, files["big.txt"])
	require.Equal(t, scan.ReasonSymlinkLoop, files["sub/loop"])
	if scanReal(t) {
		require.NotContains(t, files, "sub/ignored.txt", "sub/.gitignore applies")
	}
	if langReal {
		require.Equal(t, lang.ReasonBinary, files["bin.dat"])
		require.Equal(t, lang.ReasonInvalidUTF8, files["bad.txt"])
	}
	if os.Geteuid() != 0 { // root reads a file whatever its mode
		require.Equal(t, scan.ReasonUnreadable, files["locked.txt"])
	}
	require.Equal(t, n.Files.New+n.Files.Skipped, len(files), "every file the scan saw has a row: %v", files)

	// Every ingested file: a history row "added", chunks that cover it.
	require.Equal(t, 0, scalar[int](e, `
SELECT count(*) FROM qf_code_file f
WHERE skip_reason IS NULL AND NOT EXISTS (
    SELECT 1 FROM qf_code_version v WHERE v.codebase_id = f.codebase_id AND v.path = f.path AND v.change = 'added')`))
	requireChunksCover(t, e, root)
	// Every chunk has its full-text vector, and its vector packed in its
	// file's qf_code_centroid row.
	require.Equal(t, 0, scalar[int](e, `
SELECT count(*) FROM qf_code_chunk c
WHERE c.tsv IS NULL OR NOT EXISTS (
    SELECT 1 FROM qf_code_centroid p WHERE p.file_id = c.file_id AND position(int8send(c.id) IN p.chunk_ids) > 0)`))
	require.NotEmpty(t, scalar[string](e, `SELECT embed_model FROM qf_codebase WHERE name = 'demo'`))
	require.Equal(t, "completed", scalar[string](e, `SELECT status FROM qf_ingest_run WHERE run_id = $1`, run.ID))

	// The per-file sub-DAG: 3 run-level nodes, and a group of 11 steps per
	// file that reached the steps (scan skips cost no node).
	perFile := n.Files.New
	require.Equal(t, 3+perFile*12, e.nodes(run.ID))

	if parseReal {
		syms := map[string]string{}
		for _, r := range e.query(`SELECT f.path || ':' || s.qualified AS k, s.kind FROM qf_code_symbol s JOIN qf_code_file f ON f.id = s.file_id`) {
			syms[r["k"].(string)] = r["kind"].(string)
		}
		require.Equal(t, "function", syms["main.go:main"])
		require.Equal(t, "function", syms["util/util.go:Hello"])
		require.Equal(t, "struct", syms["util/util.go:Greeter"])
		require.Equal(t, "method", syms["util/util.go:Greeter.Greet"])
		require.Equal(t, "class", syms["lib/store.py:Store"])
		require.Equal(t, "method", syms["lib/store.py:Store.get"])
		require.Equal(t, "function", syms["lib/store.py:make_store"])
		require.Equal(t, "interface", syms["web/app.ts:Options"])
		require.Equal(t, "function", syms["web/app.ts:run"])
		imports := map[string]bool{}
		for _, r := range e.query(`SELECT f.path || ' ' || i.path AS k FROM qf_code_import i JOIN qf_code_file f ON f.id = i.file_id`) {
			imports[r["k"].(string)] = true
		}
		require.True(t, imports["main.go fmt"])
		require.True(t, imports["main.go example.com/m/util"])
		require.True(t, imports["web/app.ts ./greet"])
		// main.go imports util and calls util.Hello: both edges.
		edges := e.query(`
SELECT e.kind FROM qf_code_edge e JOIN qf_code_file a ON a.id = e.from_file JOIN qf_code_file b ON b.id = e.to_file
WHERE a.path = 'main.go' AND b.path = 'util/util.go' ORDER BY e.kind`)
		require.Len(t, edges, 2, "import and reference edges from main.go to util/util.go")
		require.Greater(t, scalar[float64](e, `SELECT rank FROM qf_code_file WHERE path = 'util/util.go'`),
			scalar[float64](e, `SELECT rank FROM qf_code_file WHERE path = 'main.go'`))
	}

	// Re-ingest unchanged: no per-file node at all.
	run2, state := e.ingest(ingest.Options{Path: root, Codebase: "demo"})
	require.Equal(t, flowtype.WorkflowCompleted, state)
	n2 := next(run2.ID)
	require.Equal(t, run2.ID, n2.Run)
	require.Equal(t, 3, e.nodes(run2.ID), "an unchanged tree costs the three run-level nodes")
	require.Equal(t, ingest.FileCounts{Unchanged: n.Files.New, Skipped: n.Files.Skipped}, n2.Files)

	// An edit, a removal and a rename.
	write(t, root, "util/util.go", goUtil+"\n// Bye says goodbye.\nfunc Bye() string { return \"bye\" }\n")
	require.NoError(t, os.Remove(filepath.Join(root, "README.md")))
	require.NoError(t, os.Rename(filepath.Join(root, "sub", "kept.txt"), filepath.Join(root, "sub", "moved.txt")))
	run3, state := e.ingest(ingest.Options{Path: root, Codebase: "demo"})
	require.Equal(t, flowtype.WorkflowCompleted, state)
	n3 := next(run3.ID)
	require.Equal(t, ingest.FileCounts{Changed: 2, Removed: 1, Unchanged: n.Files.New - 3, Skipped: n.Files.Skipped}, n3.Files)
	require.Equal(t, 3+2*12+1, e.nodes(run3.ID), "two groups (edit, rename) and one removal")
	history := map[string]string{}
	for _, r := range e.query(`SELECT path, change, coalesce(from_path, '') AS from FROM qf_code_version WHERE run_id = $1`, run3.ID) {
		history[r["path"].(string)] = r["change"].(string) + " " + r["from"].(string)
	}
	require.Equal(t, map[string]string{
		"util/util.go":  "modified ",
		"README.md":     "removed ",
		"sub/moved.txt": "renamed sub/kept.txt",
		"sub/kept.txt":  "removed ",
	}, history)
	require.Zero(t, scalar[int](e, `SELECT count(*) FROM qf_code_file WHERE path IN ('README.md', 'sub/kept.txt')`))
	requireChunksCover(t, e, root)
}

// scanReal reports whether package scan is merged (the skeleton's Scan
// returns an error for every root).
func scanReal(t *testing.T) bool {
	_, err := scan.Scan(context.Background(), scan.Options{Root: t.TempDir()})
	return err == nil
}

// requireChunksCover checks that each ingested file's chunks, in order,
// hold every non-blank line of the file on disk, and that no file is
// stored twice.
func requireChunksCover(t *testing.T, e *env, root string) {
	t.Helper()
	require.Zero(t, scalar[int](e, `SELECT count(*) FROM (SELECT codebase_id, path FROM qf_code_file GROUP BY 1, 2 HAVING count(*) > 1) d`))
	rows := e.query(`
SELECT f.path, f.hash, coalesce(string_agg(c.content, E'\u0001' ORDER BY c.ord), '') AS content
FROM qf_code_file f LEFT JOIN qf_code_chunk c ON c.file_id = f.id
WHERE f.skip_reason IS NULL GROUP BY f.id`)
	require.NotEmpty(t, rows)
	for _, r := range rows {
		p := r["path"].(string)
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		require.Equal(t, sum[:], r["hash"], "%s: stored hash is the content's", p)
		stored := r["content"].(string)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(line) != "" {
				require.Contains(t, stored, line, "%s: a chunk holds every non-blank line", p)
			}
		}
	}
}
