package ingest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/internal/ingest/store"
)

// segmentFiles is how many files' centroids one qf_search_segment row holds.
const segmentFiles = 4096

// RefreshSearchTx brings the packed segments (qf_search_segment) that
// semantic search reads per query up to date in tx, rebuilding them from
// the codebase's per-file centroids (qf_code_centroid, written by
// vector_indexing: store.IndexFileVectors). code_graph_building calls it
// once per run, after every file of the run is stored and indexed. Runs of
// the same codebase refreshing at once take turns (an advisory lock).
// Files without embedded chunks have no centroid.
func RefreshSearchTx(ctx context.Context, tx pgx.Tx, codebaseID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('quantumflow.ingest.search'), $1::int)`, int32(codebaseID)); err != nil {
		return fmt.Errorf("refresh search of codebase %d: lock: %w", codebaseID, err)
	}
	// Files that were skipped since (storage drops the row of a file it
	// stores again, and removed files' rows cascade; this is a guard).
	if _, err := tx.Exec(ctx, `
DELETE FROM qf_code_centroid c
WHERE c.codebase_id = $1
  AND NOT EXISTS (SELECT 1 FROM qf_code_file f WHERE f.id = c.file_id AND f.skip_reason IS NULL)`, codebaseID); err != nil {
		return fmt.Errorf("refresh search of codebase %d: drop centroids: %w", codebaseID, err)
	}
	if err := segmentsTx(ctx, tx, codebaseID); err != nil {
		return fmt.Errorf("refresh search of codebase %d: %w", codebaseID, err)
	}
	return nil
}

// segmentsTx rebuilds the codebase's packed segments from its centroids,
// writing only the segments whose content changed (a one-file edit
// rewrites one segment, not all of them: less to write and to vacuum).
func segmentsTx(ctx context.Context, tx pgx.Tx, codebaseID int64) error {
	rows, err := tx.Query(ctx, `SELECT file_id, vector FROM qf_code_centroid WHERE codebase_id = $1 ORDER BY file_id`, codebaseID)
	if err != nil {
		return fmt.Errorf("read centroids: %w", err)
	}
	var segs []segment
	for rows.Next() {
		var id int64
		var v []byte
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return fmt.Errorf("read centroids: %w", err)
		}
		if len(segs) > 0 && len(v) != segs[0].dims {
			continue // a vector of another length: another model's, left out
		}
		if len(segs) == 0 || len(segs[len(segs)-1].fileIDs) == segmentFiles {
			segs = append(segs, segment{dims: len(v)})
		}
		cur := &segs[len(segs)-1]
		cur.fileIDs = append(cur.fileIDs, id)
		cur.vectors = append(cur.vectors, v...)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read centroids: %w", err)
	}
	// What is stored now, by segment number: a digest of its content.
	rows, err = tx.Query(ctx, `SELECT seg, dims, sha256(file_ids), sha256(vectors) FROM qf_search_segment WHERE codebase_id = $1`, codebaseID)
	if err != nil {
		return fmt.Errorf("read segments: %w", err)
	}
	type digest struct {
		dims       int
		ids, vects [32]byte
	}
	stored := map[int]digest{}
	for rows.Next() {
		var seg int
		var d digest
		var ids, vects []byte
		if err := rows.Scan(&seg, &d.dims, &ids, &vects); err != nil {
			rows.Close()
			return fmt.Errorf("read segments: %w", err)
		}
		copy(d.ids[:], ids)
		copy(d.vects[:], vects)
		stored[seg] = d
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read segments: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM qf_search_segment WHERE codebase_id = $1 AND seg >= $2`, codebaseID, len(segs)); err != nil {
		return fmt.Errorf("drop segments: %w", err)
	}
	for i, sg := range segs {
		ids := packIDs(sg.fileIDs)
		if d, ok := stored[i]; ok && d.dims == sg.dims && d.ids == sha256.Sum256(ids) && d.vects == sha256.Sum256(sg.vectors) {
			continue
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO qf_search_segment (codebase_id, seg, dims, count, file_ids, vectors) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (codebase_id, seg) DO UPDATE
SET dims = EXCLUDED.dims, count = EXCLUDED.count, file_ids = EXCLUDED.file_ids, vectors = EXCLUDED.vectors, built_at = now()`,
			codebaseID, i, sg.dims, len(sg.fileIDs), ids, sg.vectors); err != nil {
			return fmt.Errorf("store segment %d: %w", i, err)
		}
	}
	// Every segment carries the time of the last refresh: files stored
	// since are the ones search adds as candidates.
	if _, err := tx.Exec(ctx, `UPDATE qf_search_segment SET built_at = now() WHERE codebase_id = $1 AND built_at < now()`, codebaseID); err != nil {
		return fmt.Errorf("stamp segments: %w", err)
	}
	return nil
}

// segment is one qf_search_segment row, unpacked.
type segment struct {
	codebaseID int64
	dims       int
	fileIDs    []int64
	vectors    []byte // len(fileIDs) × dims
	builtAt    time.Time
	fresh      []int64 // files stored since builtAt (read with segment 0 only)
}

// vector returns the i-th centroid.
func (s *segment) vector(i int) []byte { return s.vectors[i*s.dims : (i+1)*s.dims] }

func packIDs(ids []int64) []byte { return store.PackIDs(ids) }

func unpackIDs(b []byte) []int64 { return store.UnpackIDs(b) }
