package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ChunkText is a chunk's hash and content.
type ChunkText struct {
	Hash    []byte
	Content string
}

// ChunksWithoutVector returns the distinct chunks of the file that have no
// vector of model in qf_embedding_cache: what embedding_generation embeds.
//
// The cache is probed per chunk (LATERAL ... LIMIT 1, the primary key):
// written as NOT EXISTS, the generic plan of the prepared statement hashed
// every cached vector of the model for each file (measured: 100 ms a file
// at 23 000 vectors, growing with the cache). IndexFileVectors probes the
// same way.
func ChunksWithoutVector(ctx context.Context, q Querier, fileID int64, model string) ([]ChunkText, error) {
	rows, err := q.Query(ctx, `
SELECT DISTINCT ON (c.hash) c.hash, c.content
FROM qf_code_chunk c
LEFT JOIN LATERAL (
    SELECT true AS hit FROM qf_embedding_cache e WHERE e.model = $2 AND e.chunk_hash = c.hash LIMIT 1
) e ON true
WHERE c.file_id = $1 AND e.hit IS NULL
ORDER BY c.hash`, fileID, model)
	if err != nil {
		return nil, fmt.Errorf("chunks without a vector of file %d: %w", fileID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChunkText, error) {
		var c ChunkText
		err := r.Scan(&c.Hash, &c.Content)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("chunks without a vector of file %d: %w", fileID, err)
	}
	return out, nil
}

// PutVectors writes quantized vectors of model for the chunk hashes into
// the cache; a vector already cached is kept.
func PutVectors(ctx context.Context, q Querier, model string, hashes [][]byte, vectors [][]byte) error {
	if len(hashes) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `
INSERT INTO qf_embedding_cache (model, chunk_hash, vector)
SELECT $1, h, v FROM unnest($2::bytea[], $3::bytea[]) AS t(h, v)
ON CONFLICT (model, chunk_hash) DO NOTHING`, model, hashes, vectors)
	if err != nil {
		return fmt.Errorf("cache %d vectors of %s: %w", len(hashes), model, err)
	}
	return nil
}

// IndexText is a row's id and the text it is indexed by.
type IndexText struct {
	ID   int64
	Text string
}

// ChunksWithoutTSV returns the file's chunks that have no full-text vector
// yet (id, content): storage writes it with the row, so these are only
// chunks stored without their texts (store.File.ChunkTexts nil), which
// fulltext_indexing expands into sub-tokens.
func ChunksWithoutTSV(ctx context.Context, q Querier, fileID int64) ([]IndexText, error) {
	rows, err := q.Query(ctx, `SELECT id, content FROM qf_code_chunk WHERE file_id = $1 AND tsv IS NULL ORDER BY ord`, fileID)
	if err != nil {
		return nil, fmt.Errorf("chunks of file %d without a full-text vector: %w", fileID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (IndexText, error) {
		var t IndexText
		err := r.Scan(&t.ID, &t.Text)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("chunks of file %d without a full-text vector: %w", fileID, err)
	}
	return out, nil
}

// SetChunkTSVectors sets the full-text vectors of the file's chunks, each
// strip(to_tsvector('simple', text)) of the text given for its id (the
// sub-token expansion of its content), as StoreFileTx writes them.
func SetChunkTSVectors(ctx context.Context, q Querier, fileID int64, chunks []IndexText) error {
	if len(chunks) == 0 {
		return nil
	}
	ids, texts := make([]int64, len(chunks)), make([]string, len(chunks))
	for i, r := range chunks {
		ids[i], texts[i] = r.ID, r.Text
	}
	_, err := q.Exec(ctx, `
UPDATE qf_code_chunk t SET tsv = strip(to_tsvector('simple', u.txt))
FROM unnest($2::bigint[], $3::text[]) AS u(id, txt)
WHERE t.file_id = $1 AND t.id = u.id`, fileID, ids, texts)
	if err != nil {
		return fmt.Errorf("full-text vectors of the chunks of file %d: %w", fileID, err)
	}
	return nil
}
