package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Edge resolution. An import resolves through its candidates: a candidate
// ending in "/" is a directory (a Go package: every file directly in it),
// any other is a file path. A reference qualifier.Name resolves through
// the file's import whose local name is the qualifier, to the files of that
// import's candidates that define a top-level symbol Name (found by name
// through qf_code_symbol_name and checked against the candidate: one probe
// per reference); its edge weighs the reference count. An import's edges go
// to the files of the candidate that the importer references, or, when it
// references none by name (a blank import, a "from x import y"), to every
// file of the candidate; they weigh 1/(their number), so a package counts
// once whatever its size. (Edges to every file of every imported package
// were measured at up to 1 300 edges for one file of the standard library,
// and their inserts dominated the run.)
//
// $1 is the codebase. %[1]s narrows the importing files (one file, or
// those whose candidates name a file of the run), %[2]s the targets (none,
// or the files of the run).
const resolveSQL = `
WITH cands AS MATERIALIZED (
    SELECT DISTINCT i.file_id AS src, i.local_name, x.cand
    FROM qf_code_import i
    CROSS JOIN LATERAL unnest(i.candidates) AS x(cand)
    WHERE i.codebase_id = $1 %[1]s
), refd AS MATERIALIZED (
    SELECT q.src, q.cand, t.id AS dst, t.run_id, sum(r.count) AS cnt
    FROM cands q
    JOIN qf_code_ref r ON r.file_id = q.src AND r.qualifier = q.local_name
    JOIN qf_code_symbol s ON s.codebase_id = $1 AND lower(s.name) = lower(r.name)
         AND s.name = r.name AND s.qualified = s.name
    JOIN qf_code_file t ON t.id = s.file_id AND t.skip_reason IS NULL
         AND ((right(q.cand, 1) = '/' AND t.dir = q.cand) OR (right(q.cand, 1) <> '/' AND t.path = q.cand))
    WHERE q.local_name <> '' AND t.id <> q.src
    GROUP BY q.src, q.cand, t.id, t.run_id
), unrefd0 AS (
    SELECT c.src, c.cand FROM (SELECT DISTINCT src, cand FROM cands) c
    WHERE NOT EXISTS (SELECT 1 FROM refd WHERE refd.src = c.src AND refd.cand = c.cand)
), unrefd AS (
    -- Directories and files apart: a join on one column each can hash.
    SELECT u.src, u.cand, t.id AS dst, t.run_id, count(*) OVER (PARTITION BY u.src, u.cand) AS n
    FROM unrefd0 u JOIN qf_code_file t ON t.codebase_id = $1 AND t.skip_reason IS NULL AND t.dir = u.cand
    WHERE right(u.cand, 1) = '/'
    UNION ALL
    SELECT u.src, u.cand, t.id, t.run_id, 1
    FROM unrefd0 u JOIN qf_code_file t ON t.codebase_id = $1 AND t.skip_reason IS NULL AND t.path = u.cand
    WHERE right(u.cand, 1) <> '/'
), imports AS (
    INSERT INTO qf_code_edge (codebase_id, from_file, to_file, kind, weight)
    SELECT $1, src, dst, 'import', sum(w)
    FROM (SELECT src, dst, run_id, 1.0 / count(*) OVER (PARTITION BY src, cand) AS w FROM refd
          UNION ALL
          SELECT src, dst, run_id, 1.0 / n FROM unrefd) e
    WHERE src <> dst %[2]s
    GROUP BY src, dst
    ON CONFLICT (from_file, to_file, kind) DO UPDATE SET weight = excluded.weight
    RETURNING 1
), refs AS (
    INSERT INTO qf_code_edge (codebase_id, from_file, to_file, kind, weight)
    SELECT $1, src, dst, 'reference', sum(cnt)
    FROM refd WHERE true %[2]s
    GROUP BY src, dst
    ON CONFLICT (from_file, to_file, kind) DO UPDATE SET weight = excluded.weight
    RETURNING 1
)
SELECT (SELECT count(*) FROM imports), (SELECT count(*) FROM refs)`

// ResolveFileEdgesTx replaces the edges from the file with what its imports
// and references resolve to among the files stored now, in tx, and returns
// how many import and reference edges it wrote.
func ResolveFileEdgesTx(ctx context.Context, tx pgx.Tx, codebaseID, fileID int64) (imports, refs int, err error) {
	if _, err := tx.Exec(ctx, `DELETE FROM qf_code_edge WHERE from_file = $1`, fileID); err != nil {
		return 0, 0, fmt.Errorf("resolve edges of file %d: %w", fileID, err)
	}
	err = tx.QueryRow(ctx, fmt.Sprintf(resolveSQL, "AND i.file_id = $2", ""), codebaseID, fileID).Scan(&imports, &refs)
	if err != nil {
		return 0, 0, fmt.Errorf("resolve edges of file %d: %w", fileID, err)
	}
	return imports, refs, nil
}

// ResolveRunEdgesTx re-resolves, in tx, the edges into the files that run
// stored, from every file of the codebase whose imports name one of them:
// a file stored early in a run resolved its own edges before its targets
// stored later existed, and a changed file's symbols may have changed for
// the files that reference it.
func ResolveRunEdgesTx(ctx context.Context, tx pgx.Tx, codebaseID int64, runID string) (imports, refs int, err error) {
	if _, err := tx.Exec(ctx, `
DELETE FROM qf_code_edge WHERE to_file IN (SELECT id FROM qf_code_file WHERE run_id = $2 AND codebase_id = $1)`,
		codebaseID, runID); err != nil {
		return 0, 0, fmt.Errorf("re-resolve edges of run %s: %w", runID, err)
	}
	// The importers whose candidates name a directory or a file of the
	// run, by a hash semi-join (an array overlap with the run's paths was
	// measured quadratic: over a minute for the standard library).
	src := `AND i.file_id IN (
        SELECT i2.file_id FROM qf_code_import i2 CROSS JOIN LATERAL unnest(i2.candidates) AS c(cand)
        WHERE i2.codebase_id = $1 AND c.cand IN (
            SELECT f.dir FROM qf_code_file f WHERE f.codebase_id = $1 AND f.run_id = $2
            UNION SELECT f.path FROM qf_code_file f WHERE f.codebase_id = $1 AND f.run_id = $2))`
	// Over the whole codebase, hash joins win; the planner, misled by the
	// CTEs' row estimates, chose nested loops over them (measured: over ten
	// minutes for the standard library, 12 s without them).
	if _, err := tx.Exec(ctx, `SET LOCAL enable_nestloop = off`); err != nil {
		return 0, 0, fmt.Errorf("re-resolve edges of run %s: %w", runID, err)
	}
	err = tx.QueryRow(ctx, fmt.Sprintf(resolveSQL, src, "AND run_id = $2"), codebaseID, runID).Scan(&imports, &refs)
	if err != nil {
		return 0, 0, fmt.Errorf("re-resolve edges of run %s: %w", runID, err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL enable_nestloop = on`); err != nil {
		return 0, 0, fmt.Errorf("re-resolve edges of run %s: %w", runID, err)
	}
	return imports, refs, nil
}

// GraphEdge is an edge between file ids.
type GraphEdge struct {
	From, To int64
	Weight   float64
}

// CodebaseGraph returns the ids of the codebase's ingested files, in id
// order, and every edge between them (import and reference edges of the
// same pair summed).
func CodebaseGraph(ctx context.Context, q Querier, codebaseID int64) (files []int64, edges []GraphEdge, err error) {
	rows, err := q.Query(ctx, `
SELECT id FROM qf_code_file WHERE codebase_id = $1 AND skip_reason IS NULL ORDER BY id`, codebaseID)
	if err != nil {
		return nil, nil, fmt.Errorf("files of codebase %d: %w", codebaseID, err)
	}
	if files, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return nil, nil, fmt.Errorf("files of codebase %d: %w", codebaseID, err)
	}
	rows, err = q.Query(ctx, `
SELECT e.from_file, e.to_file, sum(e.weight)
FROM qf_code_edge e
WHERE e.codebase_id = $1
GROUP BY e.from_file, e.to_file`, codebaseID)
	if err != nil {
		return nil, nil, fmt.Errorf("edges of codebase %d: %w", codebaseID, err)
	}
	edges, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (GraphEdge, error) {
		var e GraphEdge
		err := r.Scan(&e.From, &e.To, &e.Weight)
		return e, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("edges of codebase %d: %w", codebaseID, err)
	}
	return files, edges, nil
}

// SetRanksTx writes each file's rank in one statement, in tx.
func SetRanksTx(ctx context.Context, tx pgx.Tx, files []int64, ranks []float64) error {
	if len(files) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
UPDATE qf_code_file f SET rank = u.rank
FROM unnest($1::bigint[], $2::float8[]) AS u(id, rank)
WHERE f.id = u.id AND f.rank IS DISTINCT FROM u.rank`, files, ranks)
	if err != nil {
		return fmt.Errorf("set ranks of %d files: %w", len(files), err)
	}
	return nil
}
