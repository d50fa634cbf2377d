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
	}
	chunks := map[int64]row{}
	symbols := map[int64]row{}
	if len(chunkIDs) > 0 {
		rows, err := pool.Query(ctx, `
SELECT c.id, cb.name, f.path, c.start_line, c.end_line, c.symbol, c.kind, coalesce(f.language, ''), c.content
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
			if err := rows.Scan(&id, &r.Codebase, &r.Path, &r.StartLine, &r.EndLine, &r.Symbol, &r.Kind, &r.Language, &r.content); err != nil {
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
		out = append(out, r.Result)
	}
	return out, nil
}
