package ingest

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5/pgxpool"
)

// symbolCandidates bounds each of the three candidate sets of a symbol
// search (exact, prefix, trigram) before the filters and the ranking.
const symbolCandidates = 2000

// Symbol scores: an exact name scores 4 + similarity (so 5), a prefix
// 2 + similarity, a trigram match its similarity (at most 1): exact >
// prefix > similar, and among equals the better ranked file first.
//
// The exact and prefix candidates come from the (codebase_id, lower(name)
// text_pattern_ops) index, the prefix as a range (~>=~ and ~<~, which a
// generic plan can use, unlike LIKE $1); the similar ones, asked for only
// when those are fewer than the limit, from the gin_trgm_ops index. Each
// candidate set is bounded by symbolCandidates before the filters.
const symbolQuery = `
WITH cand AS (
    (SELECT id, file_id, start_line, name FROM qf_code_symbol
     WHERE codebase_id = ANY($1) AND lower(name) = lower($4)
     LIMIT %[2]d)
    UNION
    (SELECT id, file_id, start_line, name FROM qf_code_symbol
     WHERE codebase_id = ANY($1) AND lower(name) ~>=~ lower($4) AND lower(name) ~<~ (lower($4) || chr(1114111))
     LIMIT %[2]d)
), ranked AS (%[3]s)` + symbolRanked

const similarQuery = `
WITH cand AS (
    SELECT id, file_id, start_line, name FROM qf_code_symbol
    WHERE codebase_id = ANY($1) AND lower(name) OPERATOR(%[1]s.%%) lower($4)
      AND NOT starts_with(lower(name), lower($4))
    LIMIT %[2]d
), ranked AS (%[3]s)` + symbolRanked

// symbolRank scores and filters the candidates.
const symbolRank = `
    SELECT cand.id, cand.file_id, cand.start_line, f.rank, f.path,
           CASE WHEN lower(cand.name) = lower($4) THEN 4
                WHEN starts_with(lower(cand.name), lower($4)) THEN 2
                ELSE 0 END
           + %[1]s.similarity(lower(cand.name), lower($4)) AS score
    FROM cand JOIN qf_code_file f ON f.id = cand.file_id
    WHERE ` + fileFilter + `
    ORDER BY score DESC, f.rank DESC, f.path, cand.start_line
    LIMIT $5`

// symbolRanked adds the chunk that holds each symbol's first line (the
// key hybrid search fuses on).
const symbolRanked = `
SELECT r.id, coalesce(c.id, 0), r.start_line, r.score
FROM ranked r
LEFT JOIN LATERAL (
    SELECT c.id FROM qf_code_chunk c
    WHERE c.file_id = r.file_id AND c.start_line <= r.start_line AND c.end_line >= r.start_line
    ORDER BY c.ord LIMIT 1
) c ON true
ORDER BY r.score DESC, r.rank DESC, r.path, r.start_line`

// symbolHits looks the query up among symbol names: exact and prefix
// matches first, then, when they are fewer than limit, names similar by
// trigrams.
func (s *search) symbolHits(ctx context.Context, pool *pgxpool.Pool, limit int) ([]hit, error) {
	name := symbolName(s.Query)
	if name == "" {
		return nil, nil
	}
	rank := fmt.Sprintf(symbolRank, s.trgm)
	hits, err := s.symbolRun(ctx, pool, fmt.Sprintf(symbolQuery, s.trgm, symbolCandidates, rank), name, limit)
	if err != nil || len(hits) >= limit {
		return hits, err
	}
	more, err := s.symbolRun(ctx, pool, fmt.Sprintf(similarQuery, s.trgm, symbolCandidates, rank), name, limit-len(hits))
	return append(hits, more...), err
}

func (s *search) symbolRun(ctx context.Context, pool *pgxpool.Pool, sql, name string, limit int) ([]hit, error) {
	rows, err := pool.Query(ctx, sql, s.filterArgs(name, limit)...)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	defer rows.Close()
	var hits []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.symbolID, &h.chunkID, &h.bestLine, &h.score); err != nil {
			return nil, fmt.Errorf("symbols: %w", err)
		}
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	return hits, nil
}

// symbolName is the name a query looks up: the last element of a dotted
// or ::-separated name ("http.Get" → "Get"), with the spaces of a phrase
// dropped ("parse http request" → "parsehttprequest", which finds
// parseHTTPRequest by its folded name).
func symbolName(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.LastIndexAny(q, ".:"); i >= 0 && i < len(q)-1 && !strings.ContainsFunc(q, unicode.IsSpace) {
		q = q[i+1:]
	}
	return strings.Join(strings.Fields(q), "")
}
