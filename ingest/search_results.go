package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// fileFilter is the SQL condition on qf_code_file f that every search
// query applies: an ingested file, of --lang when set ($2), whose path
// matches the --path regex when set ($3). Queries put the codebase ids in
// $1 and these two in $2 and $3.
const fileFilter = `f.skip_reason IS NULL AND ($2 = '' OR f.language = $2) AND ($3 = '' OR f.path ~ $3)`

// filterArgs are $1..$3 of every search query.
func (s *search) filterArgs(more ...any) []any {
	return append([]any{s.ids, s.Lang, s.pathRegex}, more...)
}

// trgmSchemas caches pg_trgm's schema per pool: the extension is installed
// once per database and does not move while a process runs.
var trgmSchemas sync.Map // *pgxpool.Pool → string

// trgmSchema returns the schema holding pg_trgm, sanitized for SQL text
// (pgx.Identifier). It is read from pg_extension, never from user input.
func trgmSchema(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	if v, ok := trgmSchemas.Load(pool); ok {
		return v.(string), nil
	}
	var schema string
	err := pool.QueryRow(ctx, `
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_trgm'`).Scan(&schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errors.New("search: extension pg_trgm is not installed (run enqueue migrate)")
	}
	if err != nil {
		return "", fmt.Errorf("search: find pg_trgm: %w", err)
	}
	s := pgx.Identifier{schema}.Sanitize()
	trgmSchemas.Store(pool, s)
	return s, nil
}

// results reads what the hits point at, in the hits' order, and cuts the
// snippets.
func (s *search) results(ctx context.Context, pool *pgxpool.Pool, hits []hit) ([]Result, error) {
	var chunkIDs, symbolIDs []int64
	for _, h := range hits {
		if h.symbolID != 0 {
			symbolIDs = append(symbolIDs, h.symbolID)
		} else {
			chunkIDs = append(chunkIDs, h.chunkID)
		}
	}
	type row struct {
		Result
		content    string
		chunkStart int
		fileID     int64
	}
	chunks := map[int64]row{}
	symbols := map[int64]row{}
	if len(chunkIDs) > 0 {
		rows, err := pool.Query(ctx, `
SELECT c.id, cb.name, f.path, c.start_line, c.end_line, c.symbol, c.kind, coalesce(f.language, ''), c.content, f.id
FROM qf_code_chunk c
JOIN qf_code_file f ON f.id = c.file_id
JOIN qf_codebase cb ON cb.id = f.codebase_id
WHERE c.id = ANY($1)`, chunkIDs)
		if err != nil {
			return nil, fmt.Errorf("read chunks: %w", err)
		}
		for rows.Next() {
			var id int64
			var r row
			if err := rows.Scan(&id, &r.Codebase, &r.Path, &r.StartLine, &r.EndLine, &r.Symbol, &r.Kind, &r.Language, &r.content, &r.fileID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read chunks: %w", err)
			}
			r.chunkStart = r.StartLine
			chunks[id] = r
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read chunks: %w", err)
		}
	}
	if len(symbolIDs) > 0 {
		// The chunk holding the symbol's first line gives the snippet.
		rows, err := pool.Query(ctx, `
SELECT s.id, cb.name, f.path, s.start_line, s.end_line, s.name, s.kind, coalesce(f.language, ''),
       coalesce(c.content, s.signature), coalesce(c.start_line, s.start_line)
FROM qf_code_symbol s
JOIN qf_code_file f ON f.id = s.file_id
JOIN qf_codebase cb ON cb.id = f.codebase_id
LEFT JOIN LATERAL (
    SELECT c.content, c.start_line FROM qf_code_chunk c
    WHERE c.file_id = s.file_id AND c.start_line <= s.start_line AND c.end_line >= s.start_line
    ORDER BY c.ord LIMIT 1
) c ON true
WHERE s.id = ANY($1)`, symbolIDs)
		if err != nil {
			return nil, fmt.Errorf("read symbols: %w", err)
		}
		for rows.Next() {
			var id int64
			var r row
			var name, kind string
			if err := rows.Scan(&id, &r.Codebase, &r.Path, &r.StartLine, &r.EndLine, &name, &kind, &r.Language, &r.content, &r.chunkStart); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read symbols: %w", err)
			}
			r.Symbol, r.Kind = &name, &kind
			symbols[id] = r
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read symbols: %w", err)
		}
	}
	terms := snippetTerms(s.Query)
	out := make([]Result, 0, len(hits))
	var looks []symbolLookup // chunk hits: the symbol at their best line
	for _, h := range hits {
		var r row
		var ok bool
		if h.symbolID != 0 {
			r, ok = symbols[h.symbolID]
		} else {
			r, ok = chunks[h.chunkID]
		}
		if !ok {
			continue // deleted between the ranking and this read
		}
		if s.Path != "" && !globMatch(s.Path, r.Path) {
			continue // the SQL regex is a superset of the glob
		}
		best := h.bestLine
		if best == 0 {
			best = bestLine(r.content, r.chunkStart, s.Query, terms)
		}
		r.Score = h.score
		r.Snippet = snippet(r.content, r.chunkStart, best)
		if h.symbolID == 0 {
			looks = append(looks, symbolLookup{index: len(out), fileID: r.fileID, line: best, chunkEnd: r.EndLine})
		}
		out = append(out, r.Result)
	}
	if err := s.symbolsAt(ctx, pool, looks, out); err != nil {
		return nil, err
	}
	return out, nil
}

// symbolLookup asks for the symbol at a chunk hit's best line.
type symbolLookup struct {
	index    int // into the results
	fileID   int64
	line     int
	chunkEnd int
}

// symbolsAt names, for chunk hits, the symbol their best line is in (the
// innermost one), or else the first that starts after it within the
// chunk: a chunk may hold several small symbols (the chunker packs them)
// and carries only the first one's name. The result's lines become that
// symbol's (from the best line, when that is its doc above it); a chunk
// hit outside every symbol keeps the chunk's.
func (s *search) symbolsAt(ctx context.Context, pool *pgxpool.Pool, looks []symbolLookup, out []Result) error {
	if len(looks) == 0 {
		return nil
	}
	idx := make([]int32, len(looks))
	files := make([]int64, len(looks))
	lines := make([]int32, len(looks))
	ends := make([]int32, len(looks))
	lookAt := make(map[int]int, len(looks)) // result index → looks index
	for i, l := range looks {
		idx[i], files[i], lines[i], ends[i] = int32(l.index), l.fileID, int32(l.line), int32(l.chunkEnd)
		lookAt[l.index] = i
	}
	rows, err := pool.Query(ctx, `
SELECT u.idx, sy.name, sy.kind, sy.start_line, sy.end_line
FROM unnest($1::int[], $2::bigint[], $3::int[], $4::int[]) AS u(idx, file_id, line, chunk_end)
CROSS JOIN LATERAL (
    SELECT s.name, s.kind, s.start_line, s.end_line FROM qf_code_symbol s
    WHERE s.file_id = u.file_id
      AND ((s.start_line <= u.line AND s.end_line >= u.line)
           OR (s.start_line > u.line AND s.start_line <= u.chunk_end))
    ORDER BY s.start_line > u.line, s.end_line - s.start_line, s.start_line
    LIMIT 1
) sy`, idx, files, lines, ends)
	if err != nil {
		return fmt.Errorf("read symbols at the hits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var name, kind string
		var start, end int
		if err := rows.Scan(&i, &name, &kind, &start, &end); err != nil {
			return fmt.Errorf("read symbols at the hits: %w", err)
		}
		out[i].Symbol, out[i].Kind = &name, &kind
		// From the best line when it is above the symbol (its doc).
		out[i].StartLine, out[i].EndLine = min(start, looks[lookAt[i]].line), end
	}
	return rows.Err()
}
