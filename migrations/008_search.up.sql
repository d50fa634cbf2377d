-- Search structures derived from the chunks (docs/INGESTION.md, "Search").
--
-- Semantic search ranks chunk vectors in Go. Reading every chunk vector of
-- a large codebase per query is too slow (the Go standard library has
-- about 150 000 chunks), so it first picks candidate files by a vector per
-- file, the normalised mean of its chunks' vectors, and ranks only their
-- chunks.

-- One row per ingested file with embedded chunks, written by
-- vector_indexing (store.IndexFileVectorsTx) and deleted when storage
-- replaces the file's chunks: the file's centroid, and its chunk vectors
-- packed (chunk_ids: big-endian int64s; chunk_vectors: the int8 vectors in
-- the same order). This is the only copy of the chunk vectors besides
-- qf_embedding_cache; ranking a candidate file's chunks reads one row.
CREATE TABLE qf_code_centroid (
    file_id       bigint PRIMARY KEY REFERENCES qf_code_file (id) ON DELETE CASCADE,
    codebase_id   bigint NOT NULL REFERENCES qf_codebase (id) ON DELETE CASCADE,
    vector        bytea NOT NULL,
    chunk_ids     bytea NOT NULL,
    chunk_vectors bytea NOT NULL
);
ALTER TABLE qf_code_centroid ALTER COLUMN chunk_ids SET STORAGE EXTERNAL, ALTER COLUMN chunk_vectors SET STORAGE EXTERNAL;
CREATE INDEX qf_code_centroid_codebase ON qf_code_centroid (codebase_id);

-- The centroids of a codebase packed into a few large rows, so a query
-- reads them in a handful of values instead of one row per file
-- (ingest.RefreshSearchTx, called once per run by code_graph_building,
-- rebuilds them from qf_code_centroid):
-- file_ids holds count big-endian int64s, vectors count × dims int8s in
-- the same order.
CREATE TABLE qf_search_segment (
    codebase_id bigint NOT NULL REFERENCES qf_codebase (id) ON DELETE CASCADE,
    seg         int NOT NULL,
    dims        int NOT NULL,
    count       int NOT NULL,
    file_ids    bytea NOT NULL,
    vectors     bytea NOT NULL,
    built_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (codebase_id, seg)
);

-- Files stored since the segments were built are candidates of semantic
-- search too (a watch edit is searchable before the run's refresh).
CREATE INDEX qf_code_file_stored ON qf_code_file (codebase_id, stored_at);

-- Segments are read whole per query: store them uncompressed (EXTERNAL),
-- so a read is a copy, not a decompression.
ALTER TABLE qf_search_segment ALTER COLUMN file_ids SET STORAGE EXTERNAL, ALTER COLUMN vectors SET STORAGE EXTERNAL;
