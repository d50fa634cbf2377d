package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/quantumflow/quantumflow/internal/ingest/embed"
)

// IndexFileVectors packs the vectors of model that qf_embedding_cache
// holds for the file's chunks into the file's qf_code_centroid row, with
// their centroid (PutFileVectors), and returns how many chunks got one. It
// is what vector_indexing does: the chunk rows themselves carry no vector,
// so they are never updated after their insert.
func IndexFileVectors(ctx context.Context, q Querier, codebaseID, fileID int64, model string) (int, error) {
	rows, err := q.Query(ctx, `
SELECT c.id, e.vector
FROM qf_code_chunk c
CROSS JOIN LATERAL (
    SELECT e.vector FROM qf_embedding_cache e WHERE e.model = $2 AND e.chunk_hash = c.hash LIMIT 1
) e
WHERE c.file_id = $1
ORDER BY c.ord`, fileID, model)
	if err != nil {
		return 0, fmt.Errorf("vectors of the chunks of file %d: %w", fileID, err)
	}
	var ids []int64
	var vectors [][]byte
	for rows.Next() {
		var id int64
		var v []byte
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return 0, fmt.Errorf("vectors of the chunks of file %d: %w", fileID, err)
		}
		ids, vectors = append(ids, id), append(vectors, v)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("vectors of the chunks of file %d: %w", fileID, err)
	}
	if err := PutFileVectors(ctx, q, codebaseID, fileID, ids, vectors); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// PutFileVectors writes the file's qf_code_centroid row: the chunks'
// vectors (chunkIDs[i] has vectors[i]) packed in the given order and their
// centroid. Vectors of another length than the first are left out (another
// model's). A file without vectors, or whose vectors sum to zero, has its
// row deleted.
func PutFileVectors(ctx context.Context, q Querier, codebaseID, fileID int64, chunkIDs []int64, vectors [][]byte) error {
	var ids []int64
	var packed []byte
	var sum []float64
	for i, v := range vectors {
		if len(v) == 0 || (sum != nil && len(v) != len(sum)) {
			continue
		}
		if sum == nil {
			sum = make([]float64, len(v))
		}
		for j, x := range v {
			sum[j] += float64(int8(x))
		}
		ids = append(ids, chunkIDs[i])
		packed = append(packed, v...)
	}
	c := centroid(sum)
	if len(c) == 0 {
		if _, err := q.Exec(ctx, `DELETE FROM qf_code_centroid WHERE file_id = $1`, fileID); err != nil {
			return fmt.Errorf("drop the packed vectors of file %d: %w", fileID, err)
		}
		return nil
	}
	_, err := q.Exec(ctx, `
INSERT INTO qf_code_centroid (file_id, codebase_id, vector, chunk_ids, chunk_vectors)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (file_id) DO UPDATE SET vector = EXCLUDED.vector,
    chunk_ids = EXCLUDED.chunk_ids, chunk_vectors = EXCLUDED.chunk_vectors`,
		fileID, codebaseID, c, PackIDs(ids), packed)
	if err != nil {
		return fmt.Errorf("store the packed vectors of file %d: %w", fileID, err)
	}
	return nil
}

// centroid normalises a sum of quantized vectors and quantizes it (nil
// for a zero sum). The quantization's scale does not matter: cosine
// similarity ignores it.
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

// PackIDs packs ids as big-endian int64s (qf_code_centroid.chunk_ids,
// qf_search_segment.file_ids).
func PackIDs(ids []int64) []byte {
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], uint64(id))
	}
	return b
}

// UnpackIDs is the inverse of PackIDs.
func UnpackIDs(b []byte) []int64 {
	ids := make([]int64, len(b)/8)
	for i := range ids {
		ids[i] = int64(binary.BigEndian.Uint64(b[8*i:]))
	}
	return ids
}
