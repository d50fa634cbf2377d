// Package store holds every SQL statement that code ingestion runs on the
// code tables (migrations/005_ingest.up.sql): codebases, the current
// version of each file and what it contains, history, the file graph,
// embeddings and runs. Row sets go in with unnest (one statement per set,
// never a statement per row). Functions ending in Tx do all their I/O
// through the transaction they are given; the others take a Querier (a
// pool, a connection or a transaction).
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is what the functions without Tx run their statements on: a
// *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrNoCodebase is returned for a codebase name that has no row.
var ErrNoCodebase = errors.New("no such codebase")

// UpsertCodebaseTx creates the codebase name with root, or updates the
// root of the existing one, and returns its id.
func UpsertCodebaseTx(ctx context.Context, tx pgx.Tx, name, root string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `
INSERT INTO qf_codebase (name, root) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET root = excluded.root
    WHERE qf_codebase.root IS DISTINCT FROM excluded.root
RETURNING id`, name, root).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// The root was already right: DO UPDATE ... WHERE returns no row.
		err = tx.QueryRow(ctx, `SELECT id FROM qf_codebase WHERE name = $1`, name).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("upsert codebase %s: %w", name, err)
	}
	return id, nil
}

// CodebaseID returns the id of the codebase name, or ErrNoCodebase.
func CodebaseID(ctx context.Context, q Querier, name string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM qf_codebase WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("codebase %s: %w", name, ErrNoCodebase)
	}
	if err != nil {
		return 0, fmt.Errorf("codebase %s: %w", name, err)
	}
	return id, nil
}

// SetEmbedModel records that the codebase's chunks hold vectors of model.
// It writes only when the model changes, so the many files of a run do not
// all update the one codebase row.
func SetEmbedModel(ctx context.Context, q Querier, codebaseID int64, model string) error {
	_, err := q.Exec(ctx, `
UPDATE qf_codebase SET embed_model = $2 WHERE id = $1 AND embed_model IS DISTINCT FROM $2`, codebaseID, model)
	if err != nil {
		return fmt.Errorf("set embed model of codebase %d: %w", codebaseID, err)
	}
	return nil
}

// KnownFile is what the last runs recorded of a path: its content hash
// (nil for a file the scan skipped before reading it) and its skip reason
// ("" when it was ingested).
type KnownFile struct {
	Hash       []byte
	SkipReason string
}

// KnownFiles returns every file row of the codebase, by path: what the scan
// compares its walk with.
func KnownFiles(ctx context.Context, q Querier, codebaseID int64) (map[string]KnownFile, error) {
	rows, err := q.Query(ctx, `
SELECT path, hash, coalesce(skip_reason, '') FROM qf_code_file WHERE codebase_id = $1`, codebaseID)
	if err != nil {
		return nil, fmt.Errorf("files of codebase %d: %w", codebaseID, err)
	}
	out := map[string]KnownFile{}
	var (
		path string
		kf   KnownFile
	)
	_, err = pgx.ForEachRow(rows, []any{&path, &kf.Hash, &kf.SkipReason}, func() error {
		out[path] = KnownFile{Hash: kf.Hash, SkipReason: kf.SkipReason}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("files of codebase %d: %w", codebaseID, err)
	}
	return out, nil
}

// ScanSkip is a file the scan skipped before reading it.
type ScanSkip struct {
	Path   string
	Reason string
}

// RecordScanSkipsTx records the scan's skips as file rows without content
// (hash NULL, skip_reason set), replacing what an earlier run stored for
// those paths (their symbols, chunks, ... go with the old content), and
// deletes the content-less rows of paths in gone: skipped before, absent
// now. A skip already recorded with the same reason is not written again,
// so an unchanged tree writes nothing.
func RecordScanSkipsTx(ctx context.Context, tx pgx.Tx, codebaseID int64, runID string, skips []ScanSkip, gone []string) error {
	if len(skips) > 0 {
		paths := make([]string, len(skips))
		reasons := make([]string, len(skips))
		for i, s := range skips {
			paths[i], reasons[i] = s.Path, s.Reason
		}
		// A path that held content loses it: delete the children first
		// (the row itself stays, with its id).
		if _, err := tx.Exec(ctx, `
WITH f AS (
    SELECT id FROM qf_code_file
    WHERE codebase_id = $1 AND path = ANY($2) AND hash IS NOT NULL
), s AS (DELETE FROM qf_code_symbol WHERE file_id IN (SELECT id FROM f)),
   c AS (DELETE FROM qf_code_chunk WHERE file_id IN (SELECT id FROM f)),
   i AS (DELETE FROM qf_code_import WHERE file_id IN (SELECT id FROM f)),
   r AS (DELETE FROM qf_code_ref WHERE file_id IN (SELECT id FROM f))
DELETE FROM qf_code_edge WHERE from_file IN (SELECT id FROM f) OR to_file IN (SELECT id FROM f)`, codebaseID, paths); err != nil {
			return fmt.Errorf("record scan skips: clear content: %w", err)
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO qf_code_file (codebase_id, path, skip_reason, run_id)
SELECT $1, p, r, $4 FROM unnest($2::text[], $3::text[]) AS t(p, r)
ON CONFLICT (codebase_id, path) DO UPDATE
    SET hash = NULL, size = 0, language = NULL, lines = 0, rank = 0,
        skip_reason = excluded.skip_reason, run_id = excluded.run_id, stored_at = now()
    WHERE qf_code_file.hash IS NOT NULL
       OR qf_code_file.skip_reason IS DISTINCT FROM excluded.skip_reason`,
			codebaseID, paths, reasons, runID); err != nil {
			return fmt.Errorf("record scan skips: %w", err)
		}
	}
	if len(gone) > 0 {
		if _, err := tx.Exec(ctx, `
DELETE FROM qf_code_file WHERE codebase_id = $1 AND path = ANY($2) AND hash IS NULL`, codebaseID, gone); err != nil {
			return fmt.Errorf("delete gone skips: %w", err)
		}
	}
	return nil
}
