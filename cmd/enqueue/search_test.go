package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// TestIngestReadUsageErrors: bad flags and arguments of search, history,
// codebases and watch are exit 2, before any database is touched.
func TestIngestReadUsageErrors(t *testing.T) {
	t.Parallel()
	db := "--database-url=" + unreachable
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"search without query", []string{db, "search"}, cliutil.ExitUsage, "missing QUERY"},
		{"search empty query", []string{db, "search", "  "}, cliutil.ExitUsage, "empty QUERY"},
		{"search two queries", []string{db, "search", "a", "b"}, cliutil.ExitUsage, `unexpected argument "b"`},
		{"search bad mode", []string{db, "search", "--mode", "fuzzy", "x"}, cliutil.ExitUsage, `invalid --mode "fuzzy": want hybrid, symbol, text, semantic`},
		{"search limit 0", []string{db, "search", "--limit", "0", "x"}, cliutil.ExitUsage, "--limit must be from 1 to 1000 (got 0)"},
		{"search limit not a number", []string{db, "search", "--limit", "many", "x"}, cliutil.ExitUsage, `invalid argument "many" for "--limit"`},
		{"search bad glob", []string{db, "search", "--path", "a/[b", "x"}, cliutil.ExitUsage, `invalid --path "a/[b"`},
		{"search bad output", []string{db, "search", "-o", "yaml", "x"}, cliutil.ExitUsage, `invalid --output "yaml"`},
		{"search unreachable", []string{db, "search", "x"}, cliutil.ExitError, "connect to qf@127.0.0.1:1/qf"},
		{"codebases takes no args", []string{db, "codebases", "x"}, cliutil.ExitUsage, `unexpected argument "x"`},
		{"history without codebase", []string{db, "history", "a.go"}, cliutil.ExitUsage, "missing --codebase"},
		{"history without path", []string{db, "history", "--codebase", "x"}, cliutil.ExitUsage, "missing PATH"},
		{"watch without path", []string{db, "watch"}, cliutil.ExitUsage, "missing PATH"},
		{"watch bad debounce", []string{db, "watch", "--debounce", "soon", "."}, cliutil.ExitUsage, `invalid argument "soon" for "--debounce"`},
		{"watch zero debounce", []string{db, "watch", "--debounce", "0s", "."}, cliutil.ExitUsage, "--debounce must be positive"},
		{"watch bad exclude", []string{db, "watch", "--exclude", "{a", "."}, cliutil.ExitUsage, `invalid --exclude "{a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, _, err := runCLI(t, tt.args...)
			require.Error(t, err)
			require.Equal(t, tt.code, cliutil.CodeOf(err), "error: %v", err)
			require.Contains(t, err.Error(), tt.msg)
			require.NotContains(t, cliutil.Redact(err.Error()), "s3cret-pw")
			require.Empty(t, stdout)
		})
	}
}

// seedCodebase stores one small codebase with SQL, as the pipeline stores
// it (its store functions are written at the same time by another helper).
func seedCodebase(t *testing.T, db *pgtest.DB) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), `
WITH cb AS (
    INSERT INTO qf_codebase (name, root) VALUES ('demo', '/src/demo') RETURNING id
), f AS (
    INSERT INTO qf_code_file (codebase_id, path, hash, size, language, lines, run_id)
    SELECT id, 'net/http/request.go', '\x0102'::bytea, 80, 'go', 4, 'run-1' FROM cb RETURNING id, codebase_id
), s AS (
    INSERT INTO qf_code_symbol (file_id, codebase_id, name, qualified, kind, start_line, end_line)
    SELECT id, codebase_id, 'parseHTTPRequest', 'parseHTTPRequest', 'function', 2, 4 FROM f
), c AS (
    INSERT INTO qf_code_chunk (file_id, codebase_id, ord, start_line, end_line, symbol, kind, content, hash, tsv)
    SELECT id, codebase_id, 0, 1, 4, 'parseHTTPRequest', 'function',
           E'// parseHTTPRequest reads a request.\nfunc parseHTTPRequest(r io.Reader) error {\n\treturn nil\n}\n', '\x03'::bytea,
           strip(to_tsvector('simple', 'parsehttprequest parse http request reads a request func parsehttprequest parse http request r io reader error return nil'))
    FROM f
), v AS (
    INSERT INTO qf_code_version (codebase_id, path, run_id, hash, change, at)
    SELECT id, 'net/http/request.go', 'run-1', '\x0102'::bytea, 'added', '2026-01-02T03:04:05Z' FROM cb
)
INSERT INTO qf_ingest_run (run_id, codebase_id, status, counts, started_at, finished_at)
SELECT 'run-1', id, 'completed', '{}', '2026-01-02T03:04:00Z', '2026-01-02T03:04:05Z' FROM cb`)
	require.NoError(t, err)
}

func TestSearchCommands(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	seedCodebase(t, db)
	dbFlag := "--database-url=" + db.URL

	t.Run("search text", func(t *testing.T) {
		stdout, _, err := runCLI(t, dbFlag, "search", "--mode", "symbol", "parseHTTPRequst")
		require.NoError(t, err)
		require.Contains(t, stdout, "net/http/request.go:2-4  parseHTTPRequest (function)  score ")
		require.Contains(t, stdout, "\n    func parseHTTPRequest(r io.Reader) error {\n        return nil\n")
	})
	t.Run("search json", func(t *testing.T) {
		stdout, _, err := runCLI(t, dbFlag, "search", "--mode", "text", "--codebase", "demo", "-o", "json", "parse http request")
		require.NoError(t, err)
		var got struct {
			Results []map[string]any `json:"results"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &got))
		require.Len(t, got.Results, 1)
		r := got.Results[0]
		require.Equal(t, "net/http/request.go", r["path"])
		require.Equal(t, "parseHTTPRequest", r["symbol"])
		require.Equal(t, float64(1), r["start_line"])
		require.Equal(t, float64(4), r["end_line"])
	})
	t.Run("search nothing", func(t *testing.T) {
		stdout, stderr, err := runCLI(t, dbFlag, "search", "--mode", "symbol", "zzzzzz")
		require.NoError(t, err)
		require.Empty(t, stdout)
		require.Contains(t, stderr, `no results for "zzzzzz"`)
		stdout, _, err = runCLI(t, dbFlag, "search", "--mode", "symbol", "-o", "json", "zzzzzz")
		require.NoError(t, err)
		require.JSONEq(t, `{"results": []}`, stdout)
	})
	t.Run("search unknown codebase", func(t *testing.T) {
		_, _, err := runCLI(t, dbFlag, "search", "--codebase", "nope", "x")
		require.Equal(t, cliutil.ExitError, cliutil.CodeOf(err))
		require.ErrorContains(t, err, `codebase not found: "nope"`)
	})
	t.Run("search too long", func(t *testing.T) {
		long := make([]byte, 10<<10)
		for i := range long {
			long[i] = 'a'
		}
		_, _, err := runCLI(t, dbFlag, "search", string(long))
		require.Equal(t, cliutil.ExitUsage, cliutil.CodeOf(err))
		require.ErrorContains(t, err, "invalid query: 10240 bytes, at most 1024")
	})
	t.Run("semantic without embedder", func(t *testing.T) {
		_, _, err := runCLI(t, dbFlag, "search", "--mode", "semantic", "x")
		if err != nil { // until package embed's FromEnv is merged (newEmbedder)
			require.ErrorContains(t, err, "semantic search needs an embedder")
		}
	})
	t.Run("codebases", func(t *testing.T) {
		stdout, _, err := runCLI(t, dbFlag, "codebases")
		require.NoError(t, err)
		require.Regexp(t, `NAME\s+FILES\s+SKIPPED\s+SYMBOLS\s+CHUNKS\s+LAST RUN\s+STATUS\s+FINISHED\s+ROOT\n`+
			`demo\s+1\s+0\s+1\s+1\s+run-1\s+completed\s+2026-01-02 \S+ \S+\s+/src/demo\n`, stdout)
		stdout, _, err = runCLI(t, dbFlag, "codebases", "-o", "json")
		require.NoError(t, err)
		require.JSONEq(t, `[{"name": "demo", "root": "/src/demo", "files": 1, "skipped": 0, "symbols": 1, "chunks": 1,
			"last_run": {"id": "run-1", "status": "completed", "finished_at": "2026-01-02T03:04:05Z"}}]`, stdout)
	})
	t.Run("history", func(t *testing.T) {
		stdout, _, err := runCLI(t, dbFlag, "history", "--codebase", "demo", "./net/http/request.go")
		require.NoError(t, err)
		require.Regexp(t, `AT\s+CHANGE\s+HASH\s+RUN\n2026-01-02 \S+ \S+\s+added\s+0102\s+run-1\n`, stdout)
		stdout, _, err = runCLI(t, dbFlag, "history", "--codebase", "demo", "-o", "json", "net/http/request.go")
		require.NoError(t, err)
		require.JSONEq(t, `[{"hash": "0102", "change": "added", "run": "run-1", "at": "2026-01-02T03:04:05Z"}]`, stdout)
	})
	t.Run("history errors", func(t *testing.T) {
		_, _, err := runCLI(t, dbFlag, "history", "--codebase", "demo", "never.go")
		require.Equal(t, cliutil.ExitError, cliutil.CodeOf(err))
		require.ErrorContains(t, err, `no history for never.go in codebase "demo"`)
		_, _, err = runCLI(t, dbFlag, "history", "--codebase", "nope", "a.go")
		require.Equal(t, cliutil.ExitError, cliutil.CodeOf(err))
		_, _, err = runCLI(t, dbFlag, "history", "--codebase", "demo", "../../etc/passwd")
		require.Equal(t, cliutil.ExitUsage, cliutil.CodeOf(err))
	})
	t.Run("watch missing path", func(t *testing.T) {
		_, _, err := runCLI(t, dbFlag, "watch", "/nonexistent/tree")
		require.Equal(t, cliutil.ExitError, cliutil.CodeOf(err))
		require.ErrorContains(t, err, "watch /nonexistent/tree: stat /nonexistent/tree: no such file or directory")
	})
}
