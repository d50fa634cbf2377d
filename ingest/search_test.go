package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// demoDB is a test schema holding the demo and other codebases.
func demoDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	db := pgtest.New(t)
	insertCodebase(t, db.Pool, "demo", demoFiles())
	insertCodebase(t, db.Pool, "other", otherFiles())
	return db.Pool
}

func doSearch(t *testing.T, pool *pgxpool.Pool, opts SearchOptions) []Result {
	t.Helper()
	if opts.Codebase == "" {
		opts.Codebase = "demo"
	}
	if opts.Embedder == nil {
		opts.Embedder = testEmbedder
	}
	rs, err := Search(context.Background(), pool, opts)
	require.NoError(t, err)
	return rs
}

func TestSearchSymbol(t *testing.T) {
	t.Parallel()
	pool := demoDB(t)
	tests := []struct {
		name, query string
		want        string // path:line of the first result
	}{
		{"exact", "parseHTTPRequest", "net/http/request.go:8"},
		{"exact, case folded", "PARSEHTTPREQUEST", "net/http/request.go:8"},
		{"prefix", "parseHT", "net/http/request.go:8"},
		{"typo (trigram)", "parseHTTPRequets", "net/http/request.go:8"},
		{"qualified", "http.parseHTTPRequest", "net/http/request.go:8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := doSearch(t, pool, SearchOptions{Query: tt.query, Mode: ModeSymbol})
			require.NotEmpty(t, rs)
			require.Equal(t, tt.want, paths(rs)[0])
			require.Equal(t, "parseHTTPRequest", *rs[0].Symbol)
			require.Equal(t, "function", *rs[0].Kind)
			require.Equal(t, 14, rs[0].EndLine, "a symbol hit spans the symbol")
			require.Contains(t, rs[0].Snippet, "func parseHTTPRequest(r io.Reader)")
		})
	}

	t.Run("exact > prefix > similar", func(t *testing.T) {
		rs := doSearch(t, pool, SearchOptions{Query: "parse", Mode: ModeSymbol})
		var names []string
		for _, r := range rs {
			names = append(names, *r.Symbol)
		}
		require.GreaterOrEqual(t, len(names), 4, "%v", names)
		require.Equal(t, "parse", names[0])
		// Prefixes next (in similarity order), the trigram match last.
		require.ElementsMatch(t, []string{"parseHTTPRequest", "parse_config"}, names[1:3])
		require.Equal(t, "Sparse", names[3])
		for i := 1; i < len(rs); i++ {
			require.GreaterOrEqual(t, rs[i-1].Score, rs[i].Score)
		}
	})

	t.Run("ties by file rank", func(t *testing.T) {
		rs := doSearch(t, pool, SearchOptions{Query: "Open", Mode: ModeSymbol})
		require.Equal(t, []string{"app/main.py:5", "util/strings.go:7"}, paths(rs)[:2], "app/main.py ranks 0.15, util/strings.go 0.1")
	})

	t.Run("codebase filter", func(t *testing.T) {
		rs := doSearch(t, pool, SearchOptions{Query: "parseHTTPRequest", Mode: ModeSymbol, Codebase: "other"})
		require.Equal(t, []string{"proto/parse.go:1"}, paths(rs))
		require.Equal(t, "other", rs[0].Codebase)
		all, err := Search(context.Background(), pool, SearchOptions{Query: "parseHTTPRequest", Mode: ModeSymbol})
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(all), 2)
		require.ElementsMatch(t, []string{"proto/parse.go:1", "net/http/request.go:8"}, paths(all)[:2], "both exact matches first")
	})
}

func TestSearchSubstring(t *testing.T) {
	t.Parallel()
	pool := demoDB(t)
	tests := []struct {
		query string
		want  []string // every result, path:line
	}{
		// Inside an identifier: no full-text lexeme is "httpreq".
		{"HTTPReq", []string{"net/http/request.go:7"}},
		// LIKE's wildcards and escape are literals.
		{"100%", []string{"net/http/server.go:3"}},
		{"%", []string{"net/http/server.go:3"}},
		{"a_b", []string{"util/strings.go:3"}},
		{`C:\path`, []string{"util/strings.go:3"}},
		{"readLine(r)", []string{"net/http/request.go:8"}}, // inside parseHTTPRequest: its lines
		// Case folded: no chunk holds them in the query's case, so the
		// second pass (ILIKE) finds them.
		{"httpreq", []string{"net/http/request.go:7"}},
		{"READLINE(R)", []string{"net/http/request.go:8"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rs := doSearch(t, pool, SearchOptions{Query: tt.query, Mode: ModeText})
			require.Equal(t, tt.want, paths(rs))
			require.Contains(t, strings.ToLower(rs[0].Snippet), strings.ToLower(tt.query))
		})
	}
}

func TestSearchNaturalLanguage(t *testing.T) {
	t.Parallel()
	pool := demoDB(t)
	for _, mode := range []string{ModeText, ModeSemantic, ModeHybrid} {
		t.Run(mode, func(t *testing.T) {
			rs := doSearch(t, pool, SearchOptions{Query: "parse http request", Mode: mode})
			require.NotEmpty(t, rs)
			require.Equal(t, "net/http/request.go", rs[0].Path, "%v", paths(rs))
			require.Equal(t, "parseHTTPRequest", *rs[0].Symbol)
			require.Contains(t, rs[0].Snippet, "parseHTTPRequest")
		})
	}
}

func TestSearchFilters(t *testing.T) {
	t.Parallel()
	pool := demoDB(t)
	tests := []struct {
		name string
		opts SearchOptions
		want []string
	}{
		{"lang", SearchOptions{Query: "Open", Mode: ModeSymbol, Lang: "python"}, []string{"app/main.py:5"}},
		{"lang is case folded", SearchOptions{Query: "Open", Mode: ModeSymbol, Lang: "Go"}, []string{"util/strings.go:7"}},
		{"path **", SearchOptions{Query: "Open", Mode: ModeSymbol, Path: "util/**"}, []string{"util/strings.go:7"}},
		{"path suffix", SearchOptions{Query: "Open", Mode: ModeSymbol, Path: "**/*.py"}, []string{"app/main.py:5"}},
		{"path alternatives", SearchOptions{Query: "parse", Mode: ModeText, Path: "{app,web}/*.{py,js}"}, []string{"app/main.py:1"}},
		{"path class (checked in Go)", SearchOptions{Query: "Open", Mode: ModeSymbol, Path: "[u]til/*.go"}, []string{"util/strings.go:7"}},
		{"path and lang in semantic", SearchOptions{Query: "parse http request", Mode: ModeSemantic, Path: "net/http/r*", Lang: "go", Limit: 1}, []string{"net/http/request.go:7"}},
		{"path in semantic", SearchOptions{Query: "open", Mode: ModeSemantic, Path: "app/*", Limit: 5}, []string{"app/main.py:5", "app/main.py:1"}},
		{"lang in hybrid", SearchOptions{Query: "render page", Mode: ModeHybrid, Lang: "javascript"}, []string{"web/index.js:1"}},
		{"no match", SearchOptions{Query: "Open", Mode: ModeSymbol, Lang: "rust"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := doSearch(t, pool, tt.opts)
			require.Equal(t, tt.want, paths(rs))
		})
	}
}

// TestSearchHostileInput: whatever the query, a search gives results or
// an error wrapping ErrBadQuery, never a database error.
func TestSearchHostileInput(t *testing.T) {
	t.Parallel()
	pool := demoDB(t)
	queries := []string{
		`'`, `"`, `''`, `a' OR '1'='1`, `"); DROP TABLE qf_code_chunk; --`,
		`a & b`, `a | !b`, `foo:*`, `!`, `(`, `)`, `a <-> b`, `&&&`, `:*`, `'a':*`,
		`%`, `_`, `%_%`, `\`, `\\`, `\%`, `\_`, `a\`, `*`, `**`, `?`, `[`, `{`,
		`.*`, `^$`, `\x00`, "tab\there", "é", "日本語", "🙂", strings.Repeat("a", MaxQueryBytes),
		strings.Repeat("x y ", MaxQueryBytes/4),
	}
	bad := []string{"", "   ", strings.Repeat("a", 10<<10), "nul\x00byte", "\xff\xfe"}
	for _, mode := range Modes {
		for _, q := range queries {
			_, err := Search(context.Background(), pool, SearchOptions{Query: q, Mode: mode, Embedder: testEmbedder})
			var pgErr *pgconn.PgError
			require.False(t, errors.As(err, &pgErr), "mode %s, query %q: %v", mode, q, err)
			require.NoError(t, err, "mode %s, query %q", mode, q)
		}
		for _, q := range bad {
			_, err := Search(context.Background(), pool, SearchOptions{Query: q, Mode: mode, Embedder: testEmbedder})
			require.ErrorIs(t, err, ErrBadQuery, "mode %s, query %q", mode, q)
		}
	}
}

func TestSearchOptionErrors(t *testing.T) {
	t.Parallel()
	pool := demoDB(t)
	tests := []struct {
		name string
		opts SearchOptions
		err  error
		msg  string
	}{
		{"mode", SearchOptions{Query: "x", Mode: "fuzzy"}, ErrBadOption, `mode "fuzzy"`},
		{"limit", SearchOptions{Query: "x", Limit: -1}, ErrBadOption, "limit -1"},
		{"limit too high", SearchOptions{Query: "x", Limit: MaxLimit + 1}, ErrBadOption, "limit 1001"},
		{"glob", SearchOptions{Query: "x", Path: "a/[b"}, ErrBadOption, `path "a/[b"`},
		{"codebase", SearchOptions{Query: "x", Codebase: "nope"}, ErrCodebaseNotFound, `"nope"`},
		{"semantic without embedder", SearchOptions{Query: "x", Mode: ModeSemantic}, ErrEmbedder, "needs an embedder"},
		{"model mismatch", SearchOptions{Query: "x", Mode: ModeSemantic, Codebase: "demo", Embedder: hashEmbedder{"other-model", 64}},
			ErrEmbedder, `codebase "demo" holds vectors of model "test-hash-64", the configured embedder is "other-model"`},
		{"model mismatch in hybrid", SearchOptions{Query: "x", Embedder: hashEmbedder{"other-model", 64}}, ErrEmbedder, "other-model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Search(context.Background(), pool, tt.opts)
			require.ErrorIs(t, err, tt.err)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// TestSearchJSON: a result marshals to the contract's shape.
func TestSearchJSON(t *testing.T) {
	t.Parallel()
	pool := demoDB(t)
	rs := doSearch(t, pool, SearchOptions{Query: "package util", Mode: ModeText, Limit: 1})
	require.Len(t, rs, 1)
	b, err := json.Marshal(map[string]any{"results": rs})
	require.NoError(t, err)
	var got struct {
		Results []map[string]any `json:"results"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	r := got.Results[0]
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, []string{"codebase", "path", "start_line", "end_line", "symbol", "kind", "language", "score", "snippet"}, keys)
	require.Equal(t, "util/strings.go", r["path"])
	require.Equal(t, float64(1), r["start_line"])
	require.Nil(t, r["symbol"], "text between symbols has symbol null")
	require.Nil(t, r["kind"])
	require.Equal(t, "go", r["language"])
	require.Equal(t, "package util", r["snippet"])
}

func TestSearchSkippedFilesAreNotFound(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	insertCodebase(t, db.Pool, "demo", []fixtureFile{{
		path: "gone.go", language: "go", skip: "too_large",
		symbols: []fixtureSymbol{{"Hidden", "function", 1, 1}},
		chunks:  []fixtureChunk{{startLine: 1, symbol: "Hidden", kind: "function", content: "func Hidden() {}\n"}},
	}})
	for _, mode := range Modes {
		require.Empty(t, doSearch(t, db.Pool, SearchOptions{Query: "Hidden", Mode: mode}), mode)
	}
}

// TestSearchPackedChunk: a chunk holding several symbols (the chunker
// packs small ones) names the symbol its best line is in, with its lines.
func TestSearchPackedChunk(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	insertCodebase(t, db.Pool, "demo", []fixtureFile{{
		path: "esc.go", language: "go",
		symbols: []fixtureSymbol{{"QueryEscape", "function", 2, 4}, {"PathEscape", "function", 7, 9}},
		chunks: []fixtureChunk{{startLine: 1, symbol: "QueryEscape", kind: "function", content: "" +
			"// QueryEscape escapes a query.\n" +
			"func QueryEscape(s string) string {\n\treturn escape(s, modeQuery)\n}\n" +
			"\n" +
			"// PathEscape escapes a path segment.\n" +
			"func PathEscape(s string) string {\n\treturn escape(s, modeSegment)\n}\n"}},
	}})
	for _, tt := range []struct{ query, symbol, lines string }{
		{"modeSegment", "PathEscape", "7-9"},
		{"escapes a path segment", "PathEscape", "6-9"}, // the doc line above it
		{"modeQuery", "QueryEscape", "2-4"},
	} {
		rs := doSearch(t, db.Pool, SearchOptions{Query: tt.query, Mode: ModeText})
		require.NotEmpty(t, rs, tt.query)
		require.Equal(t, tt.symbol, *rs[0].Symbol, tt.query)
		require.Equal(t, tt.lines, fmt.Sprintf("%d-%d", rs[0].StartLine, rs[0].EndLine), tt.query)
	}
}
