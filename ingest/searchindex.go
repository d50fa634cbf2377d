package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/internal/ingest/embed"
)

// segmentFiles is how many files' centroids one qf_search_segment row holds.
const segmentFiles = 4096

// refreshBatch is how many files' chunk vectors a refresh reads at once.
const refreshBatch = 500

// RefreshSearchTx brings the search structures derived from a codebase's
// chunks up to date in tx: the per-file centroid vectors
// (qf_code_centroid) of files that are new or whose hash changed since
// their centroid was computed, and the packed segments (qf_search_segment)
// semantic search reads per query, rebuilt from the centroids.
// code_graph_building calls it once per run, after every file of the run
// is stored. Runs of the same codebase refreshing at once take turns (an
// advisory lock). Files without embedded chunks get no centroid.
func RefreshSearchTx(ctx context.Context, tx pgx.Tx, codebaseID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('quantumflow.ingest.search'), $1::int)`, int32(codebaseID)); err != nil {
		return fmt.Errorf("refresh search of codebase %d: lock: %w", codebaseID, err)
	}
	// Files that were skipped since (removed files' rows cascade).
	if _, err := tx.Exec(ctx, `
DELETE FROM qf_code_centroid c
WHERE c.codebase_id = $1
  AND NOT EXISTS (SELECT 1 FROM qf_code_file f WHERE f.id = c.file_id AND f.skip_reason IS NULL)`, codebaseID); err != nil {
		return fmt.Errorf("refresh search of codebase %d: drop centroids: %w", codebaseID, err)
	}
	stale, err := staleFilesTx(ctx, tx, codebaseID)
	if err != nil {
		return fmt.Errorf("refresh search of codebase %d: %w", codebaseID, err)
	}
	for start := 0; start < len(stale); start += refreshBatch {
		if err := centroidsTx(ctx, tx, codebaseID, stale[start:min(start+refreshBatch, len(stale))]); err != nil {
			return fmt.Errorf("refresh search of codebase %d: %w", codebaseID, err)
		}
	}
	if err := segmentsTx(ctx, tx, codebaseID); err != nil {
		return fmt.Errorf("refresh search of codebase %d: %w", codebaseID, err)
	}
	return nil
}

// staleFile is a file whose centroid is missing or out of date.
type staleFile struct {
	id   int64
	hash []byte
}

func staleFilesTx(ctx context.Context, tx pgx.Tx, codebaseID int64) ([]staleFile, error) {
	rows, err := tx.Query(ctx, `
SELECT f.id, f.hash FROM qf_code_file f
LEFT JOIN qf_code_centroid c ON c.file_id = f.id
WHERE f.codebase_id = $1 AND f.skip_reason IS NULL
  AND (c.file_id IS NULL OR c.file_hash IS DISTINCT FROM f.hash)
ORDER BY f.id`, codebaseID)
	if err != nil {
		return nil, fmt.Errorf("find stale centroids: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (staleFile, error) {
		var f staleFile
		return f, r.Scan(&f.id, &f.hash)
	})
	if err != nil {
		return nil, fmt.Errorf("find stale centroids: %w", err)
	}
	return out, nil
}

// centroidsTx computes and upserts the centroids of files.
func centroidsTx(ctx context.Context, tx pgx.Tx, codebaseID int64, files []staleFile) error {
	ids := make([]int64, len(files))
	for i, f := range files {
		ids[i] = f.id
	}
	rows, err := tx.Query(ctx, `
SELECT file_id, id, embedding FROM qf_code_chunk
WHERE file_id = ANY($1) AND embedding IS NOT NULL
ORDER BY file_id, ord`, ids)
	if err != nil {
		return fmt.Errorf("read chunk vectors: %w", err)
	}
	type packed struct {
		sum     []float64
		ids     []int64
		vectors []byte
	}
	byFile := map[int64]*packed{}
	for rows.Next() {
		var fileID, chunkID int64
		var v []byte
		if err := rows.Scan(&fileID, &chunkID, &v); err != nil {
			rows.Close()
			return fmt.Errorf("read chunk vectors: %w", err)
		}
		p := byFile[fileID]
		if p == nil {
			p = &packed{sum: make([]float64, len(v))}
			byFile[fileID] = p
		}
		if len(v) != len(p.sum) {
			continue // another model's vector
		}
		addInt8(p.sum, v)
		p.ids = append(p.ids, chunkID)
		p.vectors = append(p.vectors, v...)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read chunk vectors: %w", err)
	}
	var upIDs []int64
	var upHashes, upVectors, upChunkIDs, upChunkVectors [][]byte
	for _, f := range files {
		p, ok := byFile[f.id]
		if !ok {
			continue
		}
		c := centroid(p.sum)
		if len(c) == 0 {
			continue
		}
		upIDs = append(upIDs, f.id)
		upHashes = append(upHashes, f.hash)
		upVectors = append(upVectors, c)
		upChunkIDs = append(upChunkIDs, packIDs(p.ids))
		upChunkVectors = append(upChunkVectors, p.vectors)
	}
	if len(upIDs) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `
INSERT INTO qf_code_centroid (file_id, codebase_id, file_hash, vector, chunk_ids, chunk_vectors)
SELECT u.id, $1, u.hash, u.vector, u.chunk_ids, u.chunk_vectors
FROM unnest($2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[]) AS u(id, hash, vector, chunk_ids, chunk_vectors)
ON CONFLICT (file_id) DO UPDATE SET file_hash = EXCLUDED.file_hash, vector = EXCLUDED.vector,
    chunk_ids = EXCLUDED.chunk_ids, chunk_vectors = EXCLUDED.chunk_vectors`,
		codebaseID, upIDs, upHashes, upVectors, upChunkIDs, upChunkVectors)
	if err != nil {
		return fmt.Errorf("store centroids: %w", err)
	}
	return nil
}

// addInt8 adds the int8 vector v to sum (extending sum when v is longer;
// vectors of one model have one length).
func addInt8(sum []float64, v []byte) {
	for i := 0; i < len(v) && i < len(sum); i++ {
		sum[i] += float64(int8(v[i]))
	}
}

// centroid normalises a sum of quantized vectors and quantizes it. The
// quantization's scale does not matter: cosine similarity ignores it.
func centroid(sum []float64) []byte {
	var norm float64
	for _, x := range sum {
		norm += x * x
	}
	if norm == 0 {
		return nil
	}
	norm = math.Sqrt(norm)
	v := make([]float32, len(sum))
	for i, x := range sum {
		v[i] = float32(x / norm)
	}
	return embed.Quantize(v)
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

func packIDs(ids []int64) []byte {
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], uint64(id))
	}
	return b
}

func unpackIDs(b []byte) []int64 {
	ids := make([]int64, len(b)/8)
	for i := range ids {
		ids[i] = int64(binary.BigEndian.Uint64(b[8*i:]))
	}
	return ids
}
