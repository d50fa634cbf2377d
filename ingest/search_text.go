package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/quantumflow/quantumflow/internal/ingest/tokens"
)

// textCandidates bounds the chunks a full-text or substring query ranks:
// a query matching most of a codebase ("err") ranks the first
// textCandidates matches the indexes return instead of all of them.
const textCandidates = 1000

// textHits fuses the full-text and substring rankings (reciprocal rank).
func (s *search) textHits(ctx context.Context, pool *pgxpool.Pool) ([]hit, error) {
	depth := max(s.Limit*2, 50)
	var fts, sub []hit
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { fts, err = s.ftsHits(gctx, pool, depth); return })
	g.Go(func() (err error) { sub, err = s.substringHits(gctx, pool, depth); return })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return fuse(fts, sub), nil
}

const ftsQuery = `
SELECT c.id, ts_rank(c.tsv, q.q) AS score
FROM to_tsquery('simple', $4) AS q(q),
LATERAL (
    SELECT id, file_id, tsv FROM qf_code_chunk
    WHERE codebase_id = ANY($1) AND tsv @@ q.q
    LIMIT %d
) c
JOIN qf_code_file f ON f.id = c.file_id
WHERE ` + fileFilter + `
ORDER BY score DESC, f.rank DESC, c.id
LIMIT $5`

// ftsHits ranks chunks by full-text match (ts_rank: the chunks' tsv carry
// no positions, which ts_rank_cd would need) of the query's
// words and their identifier sub-tokens: every word must match; when no
// chunk has them all, any word may.
func (s *search) ftsHits(ctx context.Context, pool *pgxpool.Pool, limit int) ([]hit, error) {
	all, anyQ := tsQueries(s.Query)
	if all == "" {
		return nil, nil
	}
	hits, err := s.ftsRun(ctx, pool, all, limit)
	if err != nil || len(hits) > 0 || anyQ == all {
		return hits, err
	}
	return s.ftsRun(ctx, pool, anyQ, limit)
}

func (s *search) ftsRun(ctx context.Context, pool *pgxpool.Pool, tsq string, limit int) ([]hit, error) {
	rows, err := pool.Query(ctx, fmt.Sprintf(ftsQuery, textCandidates), s.filterArgs(tsq, limit)...)
	if err != nil {
		return nil, fmt.Errorf("full-text: %w", err)
	}
	defer rows.Close()
	var hits []hit
	for rows.Next() {
		var h hit
		var score float32
		if err := rows.Scan(&h.chunkID, &score); err != nil {
			return nil, fmt.Errorf("full-text: %w", err)
		}
		h.score = float64(score)
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("full-text: %w", err)
	}
	return hits, nil
}

// Bounds of a full-text query, as tokens.ForIndex bounds the indexed
// words: longer words are not indexed, and a pasted file does not become
// a huge tsquery.
const (
	maxWordBytes  = 128
	maxQueryWords = 32
)

// tsQueries builds to_tsquery('simple', ...) input from a query: all
// requires every word, any accepts one. A word matches as itself (folded)
// without its underscores or as all of its identifier sub-tokens
// (tokens.Split), since the indexed text carries both (tokens.ForIndex);
// so it accepts whatever tokens.ForQuery's AND of sub-tokens accepts. Only letters and digits
// reach the tsquery, each lexeme quoted, so no input can inject tsquery
// operators; a query without letters or digits gives "".
func tsQueries(q string) (all, anyQ string) {
	var words []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' }) {
		var subs []string
		for _, t := range tokens.Split(w) {
			if t = lexeme(t); t != "" {
				subs = append(subs, "'"+t+"'")
			}
		}
		whole := lexeme(w)
		if (whole == "" && len(subs) == 0) || len(w) > maxWordBytes {
			continue
		}
		term := "'" + whole + "'"
		switch {
		case whole == "":
			term = "(" + strings.Join(subs, " & ") + ")"
		case len(subs) > 1:
			term = "(" + term + " | " + strings.Join(subs, " & ") + ")"
		}
		if !seen[term] && len(words) < maxQueryWords {
			seen[term] = true
			words = append(words, term)
		}
	}
	return strings.Join(words, " & "), strings.Join(words, " | ")
}

// lexeme folds s to lower case and keeps its letters and digits.
func lexeme(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

const substringQuery = `
SELECT c.id
FROM (
    SELECT id, file_id, content FROM qf_code_chunk
    WHERE codebase_id = ANY($1) AND content %s $4
    LIMIT $7
) c
JOIN qf_code_file f ON f.id = c.file_id
WHERE ` + fileFilter + `
  AND NOT c.id = ANY($8)
ORDER BY strpos(c.content, $5) > 0 DESC, f.rank DESC, f.path, c.id
LIMIT $6`

// Bounds of a substring search. The trigram index narrows the chunks to
// those holding every trigram of the query's words (pg_trgm ignores
// punctuation: "go func()" is every chunk with the words go and func, a
// quarter of the standard library), and each is then checked. So the
// matches ranked are the first substringCandidates (or 2 × the limit)
// found, and the query gets substringTimeout; past it, the substring
// ranking is left out (a text search then has its full-text ranking only)
// rather than failing.
const (
	substringCandidates = 100
	substringTimeout    = "250ms"
	// hybridSubstringTimeout is the budget in hybrid search, which has
	// three other rankings to fall back on.
	hybridSubstringTimeout = "100ms"
)

// substringHits finds chunks containing the query as a substring: first
// in the query's case (LIKE), then, when those are fewer than the
// search's limit, case folded (ILIKE) for the rest, up to limit; both served by the gin_trgm_ops index for
// queries of three characters or more. Exact-case matches rank first, then
// by file rank. Checking a candidate with LIKE was measured at less than
// half of ILIKE's cost (67 against 159 ms for "go func()" on the standard
// library), and most queries are typed in the case of the code they find.
func (s *search) substringHits(ctx context.Context, pool *pgxpool.Pool, limit int) ([]hit, error) {
	q := strings.TrimSpace(s.Query)
	pattern := "%" + likeEscape(q) + "%"
	candidates := max(substringCandidates, 2*limit)
	var hits []hit
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		timeout := substringTimeout
		if s.Mode == ModeHybrid {
			timeout = hybridSubstringTimeout
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true)`, timeout); err != nil {
			return err
		}
		seen := []int64{}
		for _, op := range []string{"LIKE", "ILIKE"} {
			if op == "ILIKE" && len(hits) >= min(s.Limit, limit) {
				break // enough in the query's case: no second pass
			}
			rows, err := tx.Query(ctx, fmt.Sprintf(substringQuery, op), s.filterArgs(pattern, q, limit-len(hits), candidates, seen)...)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			for _, id := range ids {
				hits = append(hits, hit{chunkID: id, score: 1 / float64(len(hits)+1)})
				seen = append(seen, id)
			}
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "57014" /* query_canceled */ && ctx.Err() == nil {
		return hits, nil // over substringTimeout: what was found so far
	}
	if err != nil {
		return nil, fmt.Errorf("substring: %w", err)
	}
	return hits, nil
}

// likeEscape escapes LIKE's wildcards and its escape character (the
// default, backslash).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
