package ingest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"testing"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/ingest/embed"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
	"github.com/quantumflow/quantumflow/internal/ingest/tokens"
)

// The search tests insert their rows with SQL (the pipeline's store
// functions are written at the same time by another helper), shaped as
// the pipeline stores them: chunk tsv = strip(to_tsvector('simple',
// tokens.ForIndex(content))), chunk vectors embed.Quantize'd vectors of the
// codebase's embed_model packed by store.PutFileVectors.

// hashEmbedder is a test Embedder: feature hashing of the folded
// identifier parts of the text (its own camel-case split, so it does not
// depend on package tokens), L2-normalised.
type hashEmbedder struct {
	model string
	dims  int
}

func (e hashEmbedder) Model() string { return e.model }
func (e hashEmbedder) Dims() int     { return e.dims }

func (e hashEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, e.dims)
		for _, w := range splitWords(t) {
			h := fnv.New32a()
			_, _ = h.Write([]byte(w))
			x := h.Sum32()
			sign := float32(1)
			if x&1 == 1 {
				sign = -1
			}
			v[(x>>1)%uint32(e.dims)] += sign
		}
		var n float64
		for _, x := range v {
			n += float64(x * x)
		}
		if n > 0 {
			for j := range v {
				v[j] = float32(float64(v[j]) / math.Sqrt(n))
			}
		}
		out[i] = v
	}
	return out, nil
}

// splitWords folds text into identifier parts: parseHTTPRequest → parse,
// http, request.
func splitWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		rs := []rune(w)
		start := 0
		for i := 1; i <= len(rs); i++ {
			if i == len(rs) ||
				(unicode.IsUpper(rs[i]) && unicode.IsLower(rs[i-1])) ||
				(unicode.IsUpper(rs[i]) && i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])) {
				if p := strings.ToLower(string(rs[start:i])); len(p) > 1 {
					out = append(out, p)
				}
				start = i
			}
		}
	}
	return out
}

var testEmbedder = hashEmbedder{model: "test-hash-64", dims: 64}

// fixtureFile is a file with its symbols and chunks.
type fixtureFile struct {
	path, language string
	rank           float64
	skip           string
	symbols        []fixtureSymbol
	chunks         []fixtureChunk
}

type fixtureSymbol struct {
	name, kind         string
	startLine, endLine int
}

type fixtureChunk struct {
	startLine     int
	symbol, kind  string
	content       string
	noEmbedding   bool
	embeddingText string // "" embeds content
}

// insertCodebase stores a codebase of files the way the pipeline does and
// returns its id.
func insertCodebase(t testing.TB, pool *pgxpool.Pool, name string, files []fixtureFile) int64 {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	id := insertCodebaseTx(t, tx, name, files)
	require.NoError(t, tx.Commit(ctx))
	return id
}

func insertCodebaseTx(t testing.TB, tx pgx.Tx, name string, files []fixtureFile) int64 {
	t.Helper()
	ctx := context.Background()
	var cb int64
	require.NoError(t, tx.QueryRow(ctx, `
INSERT INTO qf_codebase (name, root, embed_model) VALUES ($1, $2, $3) RETURNING id`,
		name, "/src/"+name, testEmbedder.Model()).Scan(&cb))
	for _, f := range files {
		insertFileTx(t, tx, cb, f)
	}
	return cb
}

func insertFileTx(t testing.TB, tx pgx.Tx, cb int64, f fixtureFile) int64 {
	t.Helper()
	ctx := context.Background()
	var all strings.Builder
	for _, c := range f.chunks {
		all.WriteString(c.content)
	}
	h := sha256.Sum256([]byte(all.String()))
	var skip *string
	if f.skip != "" {
		skip = &f.skip
	}
	var fileID int64
	require.NoError(t, tx.QueryRow(ctx, `
INSERT INTO qf_code_file (codebase_id, path, hash, size, language, lines, skip_reason, rank, run_id)
VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8, 'run-1')
ON CONFLICT (codebase_id, path) DO UPDATE SET hash = excluded.hash, stored_at = now()
RETURNING id`,
		cb, f.path, h[:], all.Len(), f.language, strings.Count(all.String(), "\n"), skip, f.rank).Scan(&fileID))
	for _, s := range f.symbols {
		_, err := tx.Exec(ctx, `
INSERT INTO qf_code_symbol (file_id, codebase_id, name, qualified, kind, start_line, end_line)
VALUES ($1, $2, $3, $3, $4, $5, $6)`,
			fileID, cb, s.name, s.kind, s.startLine, s.endLine)
		require.NoError(t, err)
	}
	var chunkIDs []int64
	var vectors [][]byte
	for i, c := range f.chunks {
		ch := sha256.Sum256([]byte(c.content))
		end := c.startLine + strings.Count(strings.TrimSuffix(c.content, "\n"), "\n")
		var chunkID int64
		require.NoError(t, tx.QueryRow(ctx, `
INSERT INTO qf_code_chunk (file_id, codebase_id, ord, start_line, end_line, symbol, kind, content, hash, tsv)
VALUES ($1, $2, $3, $4, $5, nullif($6, ''), nullif($7, ''), $8, $9, strip(to_tsvector('simple', $10)))
RETURNING id`,
			fileID, cb, i, c.startLine, end, c.symbol, c.kind, c.content, ch[:], tokens.ForIndex(c.content)).Scan(&chunkID))
		if c.noEmbedding {
			continue
		}
		text := c.content
		if c.embeddingText != "" {
			text = c.embeddingText
		}
		vs, err := testEmbedder.Embed(ctx, []string{text})
		require.NoError(t, err)
		chunkIDs, vectors = append(chunkIDs, chunkID), append(vectors, embed.Quantize(vs[0]))
	}
	// What vector_indexing writes: the packed chunk vectors and centroid
	// (none for a skipped file).
	if f.skip == "" {
		require.NoError(t, store.PutFileVectors(ctx, tx, cb, fileID, chunkIDs, vectors))
	}
	return fileID
}

// demoFiles is a small codebase of several languages.
func demoFiles() []fixtureFile {
	return []fixtureFile{
		{
			path: "net/http/request.go", language: "go", rank: 0.4,
			symbols: []fixtureSymbol{
				{"Request", "type", 3, 6},
				{"parseHTTPRequest", "function", 8, 14},
			},
			chunks: []fixtureChunk{
				{startLine: 1, content: "package http\n\n"},
				{startLine: 3, symbol: "Request", kind: "type", content: "type Request struct {\n\tMethod string\n\tURL    string\n}\n"},
				{startLine: 7, symbol: "parseHTTPRequest", kind: "function", content: "" +
					"// parseHTTPRequest reads a request line and headers.\n" +
					"func parseHTTPRequest(r io.Reader) (*Request, error) {\n" +
					"\tline, err := readLine(r)\n" +
					"\tif err != nil {\n" +
					"\t\treturn nil, err\n" +
					"\t}\n" +
					"\treturn &Request{Method: line}, nil\n" +
					"}\n"},
			},
		},
		{
			path: "net/http/server.go", language: "go", rank: 0.3,
			symbols: []fixtureSymbol{{"ListenAndServe", "function", 3, 6}, {"parse", "function", 8, 10}},
			chunks: []fixtureChunk{
				{startLine: 1, content: "package http\n\n"},
				{startLine: 3, symbol: "ListenAndServe", kind: "function", content: "func ListenAndServe(addr string) error {\n\t// 100% of the requests\n\treturn serve(addr)\n}\n"},
				{startLine: 8, symbol: "parse", kind: "function", content: "func parse(s string) string {\n\treturn s\n}\n"},
			},
		},
		{
			path: "util/strings.go", language: "go", rank: 0.1,
			symbols: []fixtureSymbol{{"Sparse", "function", 3, 5}, {"Open", "function", 7, 9}},
			chunks: []fixtureChunk{
				{startLine: 1, content: "package util\n\n"},
				{startLine: 3, symbol: "Sparse", kind: "function", content: "func Sparse(a_b string) string {\n\treturn `C:\\path` + a_b\n}\n"},
				{startLine: 7, symbol: "Open", kind: "function", content: "func Open(name string) error {\n\treturn nil\n}\n"},
			},
		},
		{
			path: "app/main.py", language: "python", rank: 0.15,
			symbols: []fixtureSymbol{{"parse_config", "function", 1, 3}, {"Open", "function", 5, 6}},
			chunks: []fixtureChunk{
				{startLine: 1, symbol: "parse_config", kind: "function", content: "def parse_config(path):\n    with open(path) as f:\n        return f.read()\n"},
				{startLine: 5, symbol: "Open", kind: "function", content: "def Open(x):\n    return x\n"},
			},
		},
		{
			path: "web/index.js", language: "javascript", rank: 0.05,
			symbols: []fixtureSymbol{{"renderPage", "function", 1, 3}},
			chunks: []fixtureChunk{
				{startLine: 1, symbol: "renderPage", kind: "function", content: "function renderPage(req) {\n  return '<html>' + req.url;\n}\n"},
			},
		},
		{path: "secrets/.env", skip: "sensitive"},
	}
}

// otherFiles is a second codebase that also defines parseHTTPRequest.
func otherFiles() []fixtureFile {
	return []fixtureFile{{
		path: "proto/parse.go", language: "go", rank: 1,
		symbols: []fixtureSymbol{{"parseHTTPRequest", "function", 1, 3}},
		chunks: []fixtureChunk{
			{startLine: 1, symbol: "parseHTTPRequest", kind: "function", content: "func parseHTTPRequest() {\n\t// other\n}\n"},
		},
	}}
}

// paths returns each result's path:line.
func paths(rs []Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s:%d", r.Path, r.StartLine)
	}
	return out
}
