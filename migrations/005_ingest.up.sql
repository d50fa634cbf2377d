-- Code ingestion (docs/INGESTION.md): codebases, the current version of
-- each file with what it contains, its history, the file graph, embeddings
-- and one row per run.
--
-- pg_trgm is installed once per database, not per schema: several
-- QuantumFlow schemas may share a database, and dropping the schema that
-- happened to hold the extension would drop every other schema's trigram
-- indexes with it. So it goes into its own schema, quantumflow_ext, unless
-- the database has it already (wherever a DBA put it), and the indexes name
-- its operator class through that schema. The advisory lock is
-- database-wide (the migration's own lock is per schema), so two schemas
-- migrating at once do not both create the extension.
SELECT pg_advisory_xact_lock(hashtext('quantumflow.extension.pg_trgm'));
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE SCHEMA IF NOT EXISTS quantumflow_ext;
        CREATE EXTENSION pg_trgm WITH SCHEMA quantumflow_ext;
    END IF;
END
$$;

CREATE TABLE qf_codebase (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    root       text NOT NULL,
    -- embed_model names the embedder whose vectors the chunks hold (set by
    -- the pipeline); search embeds a query with the same model or refuses.
    embed_model text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The current version of every file the last scans saw. hash is the
-- SHA-256 of the content (NULL for a file skipped before it was read);
-- skip_reason is NULL for an ingested file.
CREATE TABLE qf_code_file (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    codebase_id bigint NOT NULL REFERENCES qf_codebase (id) ON DELETE CASCADE,
    path        text NOT NULL,
    hash        bytea,
    size        bigint NOT NULL DEFAULT 0,
    language    text,
    lines       int NOT NULL DEFAULT 0,
    skip_reason text,
    rank        double precision NOT NULL DEFAULT 0,
    run_id      text NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    -- dir is the directory part of path ("net/http/" for
    -- "net/http/server.go", "" at the root): imports of a package resolve
    -- to the files of a directory.
    dir         text NOT NULL GENERATED ALWAYS AS (coalesce(substring(path FROM '^(.*/)'), '')) STORED,
    UNIQUE (codebase_id, path)
);
CREATE INDEX qf_code_file_dir ON qf_code_file (codebase_id, dir);
-- code_graph_building re-resolves edges into the files a run stored.
CREATE INDEX qf_code_file_run ON qf_code_file (run_id);

-- History: one row per file per run that changed it.
CREATE TABLE qf_code_version (
    codebase_id bigint NOT NULL REFERENCES qf_codebase (id) ON DELETE CASCADE,
    path        text NOT NULL,
    run_id      text NOT NULL,
    hash        bytea,
    change      text NOT NULL CHECK (change IN ('added', 'modified', 'removed', 'renamed')),
    from_path   text,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (codebase_id, path, run_id)
);

CREATE TABLE qf_code_symbol (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id     bigint NOT NULL REFERENCES qf_code_file (id) ON DELETE CASCADE,
    codebase_id bigint NOT NULL,
    name        text NOT NULL,
    qualified   text NOT NULL,
    kind        text NOT NULL,
    start_line  int NOT NULL,
    end_line    int NOT NULL,
    signature   text NOT NULL DEFAULT '',
    doc         text NOT NULL DEFAULT ''
);
-- No full-text vector: symbol search matches names (the indexes below),
-- and a symbol's text is in its chunk's. Rows are never updated.
-- (file_id, name): a file's symbols, and reference resolution (does file T
-- define name N?).
CREATE INDEX qf_code_symbol_file ON qf_code_symbol (file_id, name);
CREATE INDEX qf_code_symbol_name ON qf_code_symbol (codebase_id, lower(name) text_pattern_ops);

-- Chunks cover the file, aligned to symbols; they carry the text that
-- search shows and its full-text vector, both written with the row. Their
-- vectors are not here: vector_indexing packs a file's chunk vectors into
-- its qf_code_centroid row (migration 008), so a chunk is never updated
-- after its insert (an update that is not HOT inserts every trigram of the
-- chunk into the trigram index again) and the pages can be full.
CREATE TABLE qf_code_chunk (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id     bigint NOT NULL REFERENCES qf_code_file (id) ON DELETE CASCADE,
    codebase_id bigint NOT NULL,
    ord         int NOT NULL,
    start_line  int NOT NULL,
    end_line    int NOT NULL,
    symbol      text,
    kind        text,
    content     text NOT NULL,
    hash        bytea NOT NULL,
    tsv         tsvector,
    UNIQUE (file_id, ord)
);
CREATE INDEX qf_code_chunk_tsv ON qf_code_chunk USING gin (tsv);

CREATE TABLE qf_code_import (
    file_id     bigint NOT NULL REFERENCES qf_code_file (id) ON DELETE CASCADE,
    codebase_id bigint NOT NULL,
    path        text NOT NULL,
    alias       text NOT NULL DEFAULT '',
    -- local_name is the name the importing file uses for the import (the
    -- alias, else the package's name as the language derives it: "rand"
    -- for "math/rand/v2"); references qualified by it resolve through it.
    local_name  text NOT NULL DEFAULT '',
    line        int NOT NULL,
    -- candidates are the repository-relative paths the import may refer to
    -- (parse.ImportCandidates): files, or directories ending in "/".
    candidates  text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (file_id, path, line)
);

-- References a file makes to names defined elsewhere (qualifier.name),
-- counted per file; code_graph_building resolves them to files.
CREATE TABLE qf_code_ref (
    file_id     bigint NOT NULL REFERENCES qf_code_file (id) ON DELETE CASCADE,
    codebase_id bigint NOT NULL,
    qualifier   text NOT NULL DEFAULT '',
    name        text NOT NULL,
    count       int NOT NULL,
    PRIMARY KEY (file_id, qualifier, name)
);

-- The file graph: imports and references resolved to files of the codebase.
CREATE TABLE qf_code_edge (
    codebase_id bigint NOT NULL REFERENCES qf_codebase (id) ON DELETE CASCADE,
    from_file   bigint NOT NULL REFERENCES qf_code_file (id) ON DELETE CASCADE,
    to_file     bigint NOT NULL REFERENCES qf_code_file (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('import', 'reference')),
    weight      double precision NOT NULL,
    PRIMARY KEY (from_file, to_file, kind)
);
-- to_file: the cascade when a target file is deleted, and re-resolution.
-- (No index on codebase_id: edges are read per codebase through the files.)
CREATE INDEX qf_code_edge_to ON qf_code_edge (to_file);

CREATE TABLE qf_embedding_cache (
    model      text NOT NULL,
    chunk_hash bytea NOT NULL,
    vector     bytea NOT NULL,
    PRIMARY KEY (model, chunk_hash)
);

-- One row per ingest run, written by completion_notification in the
-- transaction that sends the run's notification.
CREATE TABLE qf_ingest_run (
    run_id      text PRIMARY KEY,
    codebase_id bigint NOT NULL REFERENCES qf_codebase (id) ON DELETE CASCADE,
    status      text NOT NULL,
    counts      jsonb NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX qf_ingest_run_codebase ON qf_ingest_run (codebase_id, finished_at DESC);

-- Trigram indexes, naming pg_trgm's operator class through its schema.
DO $$
DECLARE
    ext text := (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm');
BEGIN
    EXECUTE format('CREATE INDEX qf_code_chunk_trgm ON qf_code_chunk USING gin (content %s.gin_trgm_ops)', ext);
    EXECUTE format('CREATE INDEX qf_code_symbol_trgm ON qf_code_symbol USING gin (lower(name) %s.gin_trgm_ops)', ext);
END
$$;
