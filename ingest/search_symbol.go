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
const symbolQuery = `
WITH cand AS (
    (SELECT id FROM qf_code_symbol
     WHERE codebase_id = ANY($1) AND lower(name) = lower($4)
     LIMIT %[2]d)
    UNION
    (SELECT id FROM qf_code_symbol
     WHERE codebase_id = ANY($1) AND lower(name) ~>=~ lower($4) AND lower(name) ~<~ (lower($4) || chr(1114111))
     LIMIT %[2]d)
    UNION
    (SELECT id FROM qf_code_symbol
     WHERE codebase_id = ANY($1) AND lower(name) OPERATOR(%[1]s.%%) lower($4)
     LIMIT %[2]d)
), ranked AS (
    SELECT s.id, s.file_id, s.start_line, f.rank, f.path,
           CASE WHEN lower(s.name) = lower($4) THEN 4
                WHEN starts_with(lower(s.name), lower($4)) THEN 2
                ELSE 0 END
           + %[1]s.similarity(lower(s.name), lower($4)) AS score
    FROM cand JOIN qf_code_symbol s ON s.id = cand.id
    JOIN qf_code_file f ON f.id = s.file_id
    WHERE ` + fileFilter + `
    ORDER BY score DESC, f.rank DESC, f.path, s.start_line
    LIMIT $5
)
SELECT r.id, coalesce(c.id, 0), r.start_line, r.score
FROM ranked r
LEFT JOIN LATERAL (
    SELECT c.id FROM qf_code_chunk c
    WHERE c.file_id = r.file_id AND c.start_line <= r.start_line AND c.end_line >= r.start_line
    ORDER BY c.ord LIMIT 1
) c ON true
ORDER BY r.score DESC, r.rank DESC, r.path, r.start_line`

// symbolHits looks the query up among symbol names: exact (case-folded)
// through the text_pattern_ops index, prefix through the same index as a
// range, and trigram similarity through the gin_trgm_ops index.
func (s *search) symbolHits(ctx context.Context, pool *pgxpool.Pool, limit int) ([]hit, error) {
	name := symbolName(s.Query)
	if name == "" {
		return nil, nil
	}
	rows, err := pool.Query(ctx, fmt.Sprintf(symbolQuery, s.trgm, symbolCandidates), s.filterArgs(name, limit)...)
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
