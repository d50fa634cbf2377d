package ingest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/ingest/embed"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
	"github.com/quantumflow/quantumflow/internal/ingest/tokens"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/migrations"
)

// The search benchmarks run every mode over a codebase of realistic size
// and content: the .go files of the Go standard library ($GOROOT/src, up
// to QF_BENCH_FILES files, 10 000 by default), cut into symbol-aligned
// chunks with go/parser, stored with SQL as the pipeline stores them
// (tsv of tokens.ForIndex, 256-dimension vectors of a hashing embedder)
// and refreshed with RefreshSearchTx. Setup takes a few minutes; each
// sub-benchmark reports p50 and p95 latency over its query set.
//
//	go test -run '^$' -bench BenchmarkSearch -benchtime 200x ./ingest

var benchEmbedder = hashEmbedder{model: "bench-hash-256", dims: 256}

type benchCorpus struct {
	pool    *pgxpool.Pool
	files   int
	chunks  int
	symbols []string
	refresh time.Duration
	load    time.Duration
}

// benchCorpusFor loads the corpus into a fresh test schema, or, with
// QF_BENCH_SCHEMA set, into that schema, kept after the run and reused by
// the next one (drop it by hand when done).
func benchCorpusFor(b *testing.B) *benchCorpus {
	name := os.Getenv("QF_BENCH_SCHEMA")
	if name == "" {
		return loadCorpus(b, pgtest.New(b).Pool)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.ServerURL())
	require.NoError(b, err)
	_, err = admin.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{name}.Sanitize())
	require.NoError(b, err)
	require.NoError(b, admin.Close(ctx))
	cfg, err := pgxpool.ParseConfig(pgtest.ServerURL())
	require.NoError(b, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = name
	cfg.MaxConns = pgtest.PoolMaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	_, err = migrations.Migrate(ctx, pool)
	require.NoError(b, err)
	c := &benchCorpus{pool: pool}
	var n int
	require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM qf_codebase WHERE name = 'stdlib'`).Scan(&n))
	if n == 0 {
		return loadCorpus(b, pool)
	}
	require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM qf_code_file`).Scan(&c.files))
	require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM qf_code_chunk`).Scan(&c.chunks))
	rows, err := pool.Query(ctx, `SELECT name FROM qf_code_symbol WHERE length(name) > 3 ORDER BY id LIMIT 5000`)
	require.NoError(b, err)
	c.symbols, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(b, err)
	return c
}

func loadCorpus(b *testing.B, pool *pgxpool.Pool) *benchCorpus {
	ctx := context.Background()
	max := 10000
	if s := os.Getenv("QF_BENCH_FILES"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		max = n
	}
	root := filepath.Join(runtime.GOROOT(), "src")
	var paths []string
	require.NoError(b, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".go") && !strings.Contains(p, "/testdata/") && len(paths) < max {
			paths = append(paths, p)
		}
		return nil
	}))
	start := time.Now()
	c := &benchCorpus{pool: pool}
	var cb int64
	require.NoError(b, pool.QueryRow(ctx, `INSERT INTO qf_codebase (name, root, embed_model) VALUES ('stdlib', $1, $2) RETURNING id`,
		root, benchEmbedder.Model()).Scan(&cb))
	batch := make([]fixtureFile, 0, 200)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for _, f := range batch {
				insertBenchFileTx(b, tx, cb, f)
			}
			return nil
		}))
		batch = batch[:0]
	}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		require.NoError(b, err)
		rel, _ := filepath.Rel(root, p)
		f := goFixture(filepath.ToSlash(rel), src)
		c.files++
		c.chunks += len(f.chunks)
		for _, s := range f.symbols {
			if len(c.symbols) < 5000 && len(s.name) > 3 {
				c.symbols = append(c.symbols, s.name)
			}
		}
		batch = append(batch, f)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	_, err := pool.Exec(ctx, `ANALYZE`)
	require.NoError(b, err)
	c.load = time.Since(start)
	start = time.Now()
	require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return RefreshSearchTx(ctx, tx, cb) }))
	c.refresh = time.Since(start)
	b.Logf("corpus: %d files, %d chunks, loaded in %s; RefreshSearchTx (all files) %s", c.files, c.chunks, c.load.Round(time.Millisecond), c.refresh.Round(time.Millisecond))
	return c
}

// goFixture cuts a Go file into symbols (top-level funcs, methods, types)
// and chunks aligned to them (the gaps between are chunks of their own;
// long ones are cut at chunk.MaxLines).
func goFixture(path string, src []byte) fixtureFile {
	f := fixtureFile{path: path, language: "go", rank: 1 / float64(1+len(path))}
	lines := strings.SplitAfter(string(src), "\n")
	fset := token.NewFileSet()
	file, _ := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	type span struct {
		start, end int
		name, kind string
	}
	var spans []span
	if file != nil {
		for _, d := range file.Decls {
			s := span{start: fset.Position(d.Pos()).Line, end: fset.Position(d.End()).Line}
			switch d := d.(type) {
			case *ast.FuncDecl:
				s.name, s.kind = d.Name.Name, "function"
				if d.Recv != nil {
					s.kind = "method"
				}
				if d.Doc != nil {
					s.start = fset.Position(d.Doc.Pos()).Line
				}
			case *ast.GenDecl:
				if d.Tok == token.TYPE && len(d.Specs) == 1 {
					s.name, s.kind = d.Specs[0].(*ast.TypeSpec).Name.Name, "type"
				}
			}
			if s.name != "" {
				f.symbols = append(f.symbols, fixtureSymbol{s.name, s.kind, s.start, s.end})
			}
			spans = append(spans, s)
		}
	}
	add := func(from, to int, name, kind string) { // 1-based, inclusive
		for from <= to && from <= len(lines) {
			end := min(to, from+119, len(lines))
			f.chunks = append(f.chunks, fixtureChunk{startLine: from, symbol: name, kind: kind, content: strings.Join(lines[from-1:end], "")})
			from = end + 1
		}
	}
	next := 1
	for _, s := range spans {
		if s.start < next {
			continue
		}
		if s.start > next {
			add(next, s.start-1, "", "")
		}
		add(s.start, s.end, s.name, s.kind)
		next = s.end + 1
	}
	add(next, len(lines), "", "")
	return f
}

// insertBenchFileTx stores a file like insertFileTx, with the bench
// embedder and in three statements.
func insertBenchFileTx(b *testing.B, tx pgx.Tx, cb int64, f fixtureFile) {
	ctx := context.Background()
	var all strings.Builder
	for _, c := range f.chunks {
		all.WriteString(c.content)
	}
	h := sha256.Sum256([]byte(all.String()))
	var fileID int64
	require.NoError(b, tx.QueryRow(ctx, `
INSERT INTO qf_code_file (codebase_id, path, hash, size, language, lines, rank, run_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'bench') RETURNING id`,
		cb, f.path, h[:], all.Len(), f.language, strings.Count(all.String(), "\n"), f.rank).Scan(&fileID))
	var names, kinds []string
	var starts, ends []int32
	for _, s := range f.symbols {
		names, kinds = append(names, s.name), append(kinds, s.kind)
		starts, ends = append(starts, int32(s.startLine)), append(ends, int32(s.endLine))
	}
	_, err := tx.Exec(ctx, `
INSERT INTO qf_code_symbol (file_id, codebase_id, name, qualified, kind, start_line, end_line)
SELECT $1, $2, n, n, k, s, e FROM unnest($3::text[], $4::text[], $5::int[], $6::int[]) AS u(n, k, s, e)`,
		fileID, cb, names, kinds, starts, ends)
	require.NoError(b, err)
	texts := make([]string, len(f.chunks))
	for i, c := range f.chunks {
		texts[i] = c.content
	}
	vs, err := benchEmbedder.Embed(ctx, texts)
	require.NoError(b, err)
	var ords, cstarts, cends []int32
	var syms, ckinds, contents, idx []string
	var hashes, vecs [][]byte
	for i, c := range f.chunks {
		ch := sha256.Sum256([]byte(c.content))
		ords = append(ords, int32(i))
		cstarts = append(cstarts, int32(c.startLine))
		cends = append(cends, int32(c.startLine+strings.Count(strings.TrimSuffix(c.content, "\n"), "\n")))
		syms, ckinds = append(syms, c.symbol), append(ckinds, c.kind)
		contents, idx = append(contents, strings.ToValidUTF8(strings.ReplaceAll(c.content, "\x00", ""), "")), append(idx, tokens.ForIndex(c.content))
		hashes, vecs = append(hashes, ch[:]), append(vecs, embed.Quantize(vs[i]))
	}
	rows, err := tx.Query(ctx, `
INSERT INTO qf_code_chunk (file_id, codebase_id, ord, start_line, end_line, symbol, kind, content, hash, tsv)
SELECT $1, $2, o, s, e, nullif(sy, ''), nullif(k, ''), c, h, strip(to_tsvector('simple', ix))
FROM unnest($3::int[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::text[]) AS u(o, s, e, sy, k, c, h, ix)
RETURNING id, ord`,
		fileID, cb, ords, cstarts, cends, syms, ckinds, contents, hashes, idx)
	require.NoError(b, err)
	ids := make([]int64, len(vecs)) // by ord
	for rows.Next() {
		var id int64
		var ord int
		require.NoError(b, rows.Scan(&id, &ord))
		ids[ord] = id
	}
	require.NoError(b, rows.Err())
	require.NoError(b, store.PutFileVectors(ctx, tx, cb, fileID, ids, vecs))
}

// runQueries runs the queries round robin b.N times and reports p50 and
// p95 latency in milliseconds.
func runQueries(b *testing.B, c *benchCorpus, mode string, queries []string) {
	ctx := context.Background()
	durs := make([]time.Duration, 0, b.N)
	results := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := queries[i%len(queries)]
		start := time.Now()
		rs, err := Search(ctx, c.pool, SearchOptions{Query: q, Mode: mode, Codebase: "stdlib", Embedder: benchEmbedder, Limit: 20})
		durs = append(durs, time.Since(start))
		if err != nil {
			b.Fatalf("%s %q: %v", mode, q, err)
		}
		results += len(rs)
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(float64(results)/float64(b.N), "results/op")
}

func BenchmarkSearch(b *testing.B) {
	c := benchCorpusFor(b)
	var exact, prefix, typo []string
	for i := 0; i < len(c.symbols) && len(exact) < 50; i += len(c.symbols)/50 + 1 {
		s := c.symbols[i]
		exact = append(exact, s)
		prefix = append(prefix, s[:len(s)/2+1])
		typo = append(typo, s[:len(s)-2]+s[len(s)-1:]+s[len(s)-2:len(s)-1]) // last two letters swapped
	}
	natural := []string{
		"parse http request", "read a file line by line", "open a network connection", "encode json",
		"sort a slice", "compress with gzip", "format a time", "parse a url query", "hash with sha256",
		"write a response header", "split a string", "create a temporary file", "base64 encode",
		"parse command line flags", "start a goroutine pool", "read environment variable",
	}
	substrings := []string{
		"HTTPReq", "ReadFull(", "errors.New(\"", "sync.Mutex", "ctx.Done()", "bufio.NewReader", "ParseInt(",
		"json:\"", "defer f.Close()", "strconv.Itoa", "0x7fffffff", "nolint", "TODO(", "io.EOF", "100%",
	}
	b.Run("symbol/exact", func(b *testing.B) { runQueries(b, c, ModeSymbol, exact) })
	b.Run("symbol/prefix", func(b *testing.B) { runQueries(b, c, ModeSymbol, prefix) })
	b.Run("symbol/typo", func(b *testing.B) { runQueries(b, c, ModeSymbol, typo) })
	b.Run("text/substring", func(b *testing.B) { runQueries(b, c, ModeText, substrings) })
	b.Run("text/natural", func(b *testing.B) { runQueries(b, c, ModeText, natural) })
	b.Run("semantic", func(b *testing.B) { runQueries(b, c, ModeSemantic, natural) })
	b.Run("hybrid/natural", func(b *testing.B) { runQueries(b, c, ModeHybrid, natural) })
	b.Run("hybrid/symbol", func(b *testing.B) { runQueries(b, c, ModeHybrid, exact) })
	b.Run("hybrid/substring", func(b *testing.B) { runQueries(b, c, ModeHybrid, substrings) })
	b.Run("semantic/recall", func(b *testing.B) { benchRecall(b, c, natural) })
	b.Run("refresh/one-file", func(b *testing.B) { benchRefresh(b, c) })
}

// benchRefresh measures RefreshSearchTx after one file changed (what a
// watch edit costs).
func benchRefresh(b *testing.B, c *benchCorpus) {
	ctx := context.Background()
	var cb int64
	require.NoError(b, c.pool.QueryRow(ctx, `SELECT id FROM qf_codebase WHERE name = 'stdlib'`).Scan(&cb))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := c.pool.Exec(ctx, `UPDATE qf_code_file SET hash = $2 WHERE id = (SELECT min(id) FROM qf_code_file WHERE codebase_id = $1)`, cb, []byte(fmt.Sprint(i)))
		require.NoError(b, err)
		require.NoError(b, pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error { return RefreshSearchTx(ctx, tx, cb) }))
	}
}

// benchRecall reports recall@10 of semantic search (centroid-picked
// candidate files) against ranking every chunk vector of the codebase.
func benchRecall(b *testing.B, c *benchCorpus, queries []string) {
	ctx := context.Background()
	var found, total int
	for i := 0; i < b.N; i++ {
		q := queries[i%len(queries)]
		s, err := newSearch(SearchOptions{Query: q, Mode: ModeSemantic, Codebase: "stdlib", Embedder: benchEmbedder, Limit: 10})
		require.NoError(b, err)
		require.NoError(b, s.resolve(ctx, c.pool))
		got, err := s.vectorHits(ctx, c.pool, 10)
		require.NoError(b, err)
		vs, err := benchEmbedder.Embed(ctx, []string{q})
		require.NoError(b, err)
		all, err := s.rankPacked(ctx, c.pool, embed.Quantize(vs[0]), nil, `c.codebase_id = ANY($4)`, s.ids)
		require.NoError(b, err)
		sort.Slice(all, func(i, j int) bool { return all[i].score > all[j].score })
		want := map[int64]bool{}
		for _, h := range all[:min(10, len(all))] {
			want[h.chunkID] = true
		}
		for _, h := range got {
			if want[h.chunkID] {
				found++
			}
		}
		total += len(want)
	}
	b.ReportMetric(float64(found)/float64(total), "recall@10")
}
