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
// import's candidates that define a top-level symbol Name; its edge weighs
// the reference count. An import's edges go to the files of the candidate
// that the importer references, or, when it references none by name (a
// blank import, a "from x import y"), to every file of the candidate; they
// weigh 1/(their number), so a package counts once whatever its size.
// (Edges to every file of every imported package were measured at up to
// 1 300 edges for one file of the standard library, and their inserts
// dominated the run.)
//
// The statement goes from the candidates to their files (targets), then
// to the importer's references by (file, qualifier) and the target's
// symbols by (file, name), each a prefix of an index. An earlier form
// joined references to symbols by name first: the planner guessed that
// join at one row and hashed all 500 000 of its rows for a one-file edit
// (2 s of a 3.3 s code_graph_building).
//
// $1 is the codebase. %[1]s narrows the importing files (one file, or
// none), %[2]s the targets (none, or the files of the run), %[3]s the
// candidates (none, or those naming a file of the run: the weights are per
// importer and candidate, so leaving the other candidates out changes no
// edge into the run's files).
const resolveSQL = `
WITH cands AS MATERIALIZED (
    SELECT DISTINCT i.file_id AS src, i.local_name, x.cand
    FROM qf_code_import i
    CROSS JOIN LATERAL unnest(i.candidates) AS x(cand)
    WHERE i.codebase_id = $1 %[1]s %[3]s
), qrefs AS MATERIALIZED (
    SELECT q.src, q.cand, r.name, r.count
    FROM cands q JOIN qf_code_ref r ON r.file_id = q.src AND r.qualifier = q.local_name
    WHERE q.local_name <> ''
), refd AS MATERIALIZED (
    SELECT r.src, r.cand, t.id AS dst, t.run_id, sum(r.count) AS cnt
    FROM qrefs r
    %[4]s
    JOIN qf_code_file t ON t.id = s.file_id AND t.skip_reason IS NULL
         AND ((right(r.cand, 1) = '/' AND t.dir = r.cand) OR (right(r.cand, 1) <> '/' AND t.path = r.cand))
    WHERE t.id <> r.src
    GROUP BY r.src, r.cand, t.id, t.run_id
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

// How resolveSQL finds the top-level symbols that references name
// (%[4]s). The planner guesses `s.qualified = s.name` at 0.5 %% of the
// symbols (it is nearly all of them), so it sorts or hashes the whole
// symbol table even for a one-file edit (95 000 rows for a few thousand
// references). symbolsProbed forces one index probe per reference (a
// LATERAL subquery that OFFSET 0 keeps from being pulled up into a join), right for one file's references or a small run's;
// symbolsJoined leaves the join to the planner, right for a large run,
// where it hashes.
const (
	symbolsProbed = `CROSS JOIN LATERAL (
        SELECT s.file_id FROM qf_code_symbol s
        WHERE s.codebase_id = $1 AND lower(s.name) = lower(r.name) AND s.name = r.name AND s.qualified = s.name
        OFFSET 0) s`
	symbolsJoined = `JOIN qf_code_symbol s ON s.codebase_id = $1 AND lower(s.name) = lower(r.name)
         AND s.name = r.name AND s.qualified = s.name`
)

// FileEdges is what ResolveFileEdgesTx did: the import and reference
// edges it wrote, the file's import candidates, and how many of those it
// left to the run's re-resolution because every file they name is the
// run's own.
type FileEdges struct {
	Imports, Refs        int
	Candidates, Deferred int
}

// ResolveFileEdgesTx replaces the edges from the file with what its imports
// and references resolve to among the files stored now that run did not
// store, in tx, and says what it did.
//
// Edges into the files of run are left to ResolveRunEdgesTx, which
// code_graph_building runs once every file of the run is stored: it
// deletes and re-resolves every edge into them, so an edge written here
// would be written twice. In a first ingest that was every edge, at 5.9
// ms of statement time a file (measured on the standard library). The
// file's candidates are counted first (two index probes each); when none
// names a file outside the run, as in a first ingest, nothing else runs:
// a 0.5 ms statement against 2.6 to 6.6 ms for resolveSQL, plus its 1 to
// 2 ms of planning. A candidate with files on both sides is resolved
// whole and only its edges out of the run are kept: an import's weight
// is per (importer, candidate), over all the candidate's files.
func ResolveFileEdgesTx(ctx context.Context, tx pgx.Tx, codebaseID, fileID int64, runID string) (FileEdges, error) {
	var fe FileEdges
	if _, err := tx.Exec(ctx, `DELETE FROM qf_code_edge WHERE from_file = $1`, fileID); err != nil {
		return fe, fmt.Errorf("resolve edges of file %d: %w", fileID, err)
	}
	// The candidates left, first: resolveSQL costs about 2 ms to plan
	// alone, and in a first ingest no candidate is left.
	err := tx.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE NOT `+outsideRun+`)
FROM qf_code_import i CROSS JOIN LATERAL unnest(i.candidates) AS x(cand)
WHERE i.codebase_id = $1 `+fileImporter, codebaseID, fileID, runID).Scan(&fe.Candidates, &fe.Deferred)
	if err != nil {
		return fe, fmt.Errorf("resolve edges of file %d: %w", fileID, err)
	}
	if fe.Deferred == fe.Candidates {
		return fe, nil
	}
	err = tx.QueryRow(ctx, fmt.Sprintf(resolveSQL, fileImporter, "AND run_id <> $3", "AND "+outsideRun, symbolsProbed),
		codebaseID, fileID, runID).Scan(&fe.Imports, &fe.Refs)
	if err != nil {
		return fe, fmt.Errorf("resolve edges of file %d: %w", fileID, err)
	}
	return fe, nil
}

// The per-file resolution's importer ($2), and the condition that a
// candidate (x.cand) names a file outside the run ($3), by the file
// table's (codebase_id, dir) and (codebase_id, path) indexes.
const (
	fileImporter = `AND i.file_id = $2`
	outsideRun   = `(EXISTS (
            SELECT 1 FROM qf_code_file o
            WHERE o.codebase_id = $1 AND o.dir = x.cand AND o.run_id <> $3 AND o.skip_reason IS NULL)
        OR EXISTS (
            SELECT 1 FROM qf_code_file o
            WHERE o.codebase_id = $1 AND o.path = x.cand AND o.run_id <> $3 AND o.skip_reason IS NULL))`
)

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
	// How the symbols are found depends on the run's size (see
	// symbolsProbed). Measured on the standard library (9 092 files):
	// an edit of strings/strings.go, whose package a thousand files
	// import, 3.3 s before (every importer's every import re-resolved,
	// hash joins forced) and 0.2 s now; the full run 7 s (15 s before).
	var stored int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM qf_code_file WHERE codebase_id = $1 AND run_id = $2`, codebaseID, runID).Scan(&stored); err != nil {
		return 0, 0, fmt.Errorf("re-resolve edges of run %s: %w", runID, err)
	}
	symbols := symbolsProbed
	if stored >= AnalyzeThreshold {
		symbols = symbolsJoined
	}
	return resolveRunTx(ctx, tx, codebaseID, runID, symbols)
}

// resolveRunTx is ResolveRunEdgesTx's statement, with the symbol lookup
// given (symbolsProbed or symbolsJoined): both must write the same edges.
func resolveRunTx(ctx context.Context, tx pgx.Tx, codebaseID int64, runID, symbols string) (imports, refs int, err error) {
	// The importers' candidates that name a directory or a file of the
	// run, by a hash semi-join (an array overlap with the run's paths was
	// measured quadratic: over a minute for the standard library). Only
	// those candidates: an edit of strings/strings.go re-resolves the
	// thousand importers of "strings", not all their other imports too.
	cand := `AND x.cand IN (
        SELECT f.dir FROM qf_code_file f WHERE f.codebase_id = $1 AND f.run_id = $2
        UNION SELECT f.path FROM qf_code_file f WHERE f.codebase_id = $1 AND f.run_id = $2)`
	err = tx.QueryRow(ctx, fmt.Sprintf(resolveSQL, "", "AND run_id = $2", cand, symbols), codebaseID, runID).Scan(&imports, &refs)
	if err != nil {
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
