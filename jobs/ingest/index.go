package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/ingest/embed"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
	"github.com/quantumflow/quantumflow/internal/ingest/tokens"
)

// indexOutput is the output of the steps after storage.
type indexOutput struct {
	Path   string `json:"path"`
	FileID int64  `json:"file_id,omitempty"`
	Skip   string `json:"skip,omitempty"`
	// What the step did, for status: vectors computed and reused, chunks
	// and symbols indexed, edges written.
	Model    string `json:"model,omitempty"`
	Embedded int    `json:"embedded,omitempty"`
	Vectors  int    `json:"vectors,omitempty"`
	Chunks   int    `json:"chunks,omitempty"`
	Symbols  int    `json:"symbols,omitempty"`
	Imports  int    `json:"imports,omitempty"`
	Refs     int    `json:"refs,omitempty"`
	// relationship_analysis: the file's import candidates, and those it
	// left to code_graph_building (every file they name is the run's).
	Candidates int `json:"candidates,omitempty"`
	Deferred   int `json:"deferred,omitempty"`
}

// stored reads storage's output. ok is false when the step has nothing
// to index: for a skipped file, whose skip it records as the step's own
// output, and on an error.
func stored(ctx context.Context) (st storageOutput, ok bool, err error) {
	if err := dep(ctx, stepStorage, &st); err != nil {
		return st, false, err
	}
	if st.Skip != "" || st.FileID == 0 {
		return st, false, flow.SetOutput(ctx, indexOutput{Path: st.Path, Skip: st.Skip})
	}
	return st, true, nil
}

// embedErr is the embedding step's error for a failed Embed call: marked
// permanent when the embedder says retrying cannot help.
func embedErr(path string, err error) error {
	wrapped := stepErr(stepEmbeddingGeneration, path, err)
	var ee *embed.Error
	if errors.As(err, &ee) && !ee.Retryable {
		return flow.Permanent(wrapped)
	}
	return wrapped
}

// embedBatch is how many chunks go to the embedder at once.
const embedBatch = 64

// embeddingGeneration embeds the file's chunks that have no vector of the
// worker's model in qf_embedding_cache yet (content seen before, in any
// file or codebase, is not embedded again) and caches the vectors. An
// embedder failure that retrying may fix (an endpoint that is down, a 429
// or a 5xx) returns the error, so River retries it per the node's
// max_attempts; one that it cannot (a 400 or 401: a bad key or model, a
// malformed response) fails the node at once (flow.Permanent) without
// spending the attempts left.
func (s *steps) embeddingGeneration(ctx context.Context, job *river.Job[EmbeddingGenerationArgs]) error {
	st, ok, err := stored(ctx)
	if !ok {
		return err
	}
	in, _, err := runInput(ctx)
	if err != nil {
		return err
	}
	model := s.cfg.Embedder.Model()
	out := indexOutput{Path: st.Path, FileID: st.FileID, Model: model}
	missing, err := store.ChunksWithoutVector(ctx, s.cfg.Pool, st.FileID, model)
	if err != nil {
		return stepErr(stepEmbeddingGeneration, st.Path, err)
	}
	for len(missing) > 0 {
		batch := missing[:min(embedBatch, len(missing))]
		missing = missing[len(batch):]
		texts := make([]string, len(batch))
		hashes := make([][]byte, len(batch))
		for i, c := range batch {
			texts[i], hashes[i] = c.Content, c.Hash
		}
		vecs, err := s.cfg.Embedder.Embed(ctx, texts)
		if err != nil {
			return embedErr(st.Path, err)
		}
		if len(vecs) != len(texts) {
			return stepErr(stepEmbeddingGeneration, st.Path,
				fmt.Errorf("embedder %s returned %d vectors for %d texts", model, len(vecs), len(texts)))
		}
		q := make([][]byte, len(vecs))
		for i, v := range vecs {
			q[i] = embed.Quantize(v)
		}
		if err := store.PutVectors(ctx, s.cfg.Pool, model, hashes, q); err != nil {
			return stepErr(stepEmbeddingGeneration, st.Path, err)
		}
		out.Embedded += len(batch)
	}
	if err := store.SetEmbedModel(ctx, s.cfg.Pool, in.CodebaseID, model); err != nil {
		return stepErr(stepEmbeddingGeneration, st.Path, err)
	}
	return flow.SetOutput(ctx, out)
}

// vectorIndexing packs the file's chunk vectors from the cache, with their
// centroid, into the file's qf_code_centroid row (store.IndexFileVectors);
// code_graph_building's ingest.RefreshSearchTx packs the centroids into
// the codebase's search segments.
func (s *steps) vectorIndexing(ctx context.Context, job *river.Job[VectorIndexingArgs]) error {
	var emb indexOutput
	if err := dep(ctx, stepEmbeddingGeneration, &emb); err != nil {
		return err
	}
	if emb.FileID == 0 {
		return flow.SetOutput(ctx, indexOutput{Path: emb.Path, Skip: emb.Skip})
	}
	in, _, err := runInput(ctx)
	if err != nil {
		return err
	}
	n, err := store.IndexFileVectors(ctx, s.cfg.Pool, in.CodebaseID, emb.FileID, emb.Model)
	if err != nil {
		return stepErr(stepVectorIndexing, emb.Path, err)
	}
	return flow.SetOutput(ctx, indexOutput{Path: emb.Path, FileID: emb.FileID, Model: emb.Model, Vectors: n})
}

// fulltextIndexing sets the full-text vector of any chunk of the file that
// has none, from its content expanded with identifier sub-tokens
// (tokens.ForIndex). Storage writes the chunks' vectors with the rows (the
// same expansion: see store.File.ChunkTexts for why), so this is a
// fallback; symbols have no full-text vector (symbol search matches
// names).
func (s *steps) fulltextIndexing(ctx context.Context, job *river.Job[FulltextIndexingArgs]) error {
	st, ok, err := stored(ctx)
	if !ok {
		return err
	}
	chunks, err := store.ChunksWithoutTSV(ctx, s.cfg.Pool, st.FileID)
	if err != nil {
		return stepErr(stepFulltextIndexing, st.Path, err)
	}
	for i := range chunks {
		chunks[i].Text = tokens.ForIndex(chunks[i].Text)
	}
	if err := store.SetChunkTSVectors(ctx, s.cfg.Pool, st.FileID, chunks); err != nil {
		return stepErr(stepFulltextIndexing, st.Path, err)
	}
	return flow.SetOutput(ctx, indexOutput{Path: st.Path, FileID: st.FileID, Chunks: len(chunks)})
}

// relationshipAnalysis resolves the file's imports and references to the
// files of the codebase stored so far that this run does not store, and
// writes those edges; the edges into the run's own files are resolved
// once by code_graph_building, when all of them are stored
// (store.ResolveFileEdgesTx says why).
func (s *steps) relationshipAnalysis(ctx context.Context, job *river.Job[RelationshipAnalysisArgs]) error {
	st, ok, err := stored(ctx)
	if !ok {
		return err
	}
	in, runID, err := runInput(ctx)
	if err != nil {
		return err
	}
	out := indexOutput{Path: st.Path, FileID: st.FileID}
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		fe, err := store.ResolveFileEdgesTx(ctx, tx, in.CodebaseID, st.FileID, runID)
		out.Imports, out.Refs, out.Candidates, out.Deferred = fe.Imports, fe.Refs, fe.Candidates, fe.Deferred
		return err
	})
	if err != nil {
		return stepErr(stepRelationshipAnalysis, st.Path, err)
	}
	return flow.SetOutput(ctx, out)
}

// fileRemoval deletes a gone file (its content and edges go with it) and
// records history "removed", completing the node in the same transaction.
func (s *steps) fileRemoval(ctx context.Context, job *river.Job[FileRemovalArgs]) error {
	in, runID, err := runInput(ctx)
	if err != nil {
		return err
	}
	err = writeAndComplete(ctx, s.cfg.Pool, func(tx pgx.Tx) (any, error) {
		removed, err := store.RemoveFileTx(ctx, tx, in.CodebaseID, runID, job.Args.Path)
		return map[string]any{"path": job.Args.Path, "removed": removed}, err
	})
	if err != nil {
		return fmt.Errorf("file_removal of %s: %w", job.Args.Path, err)
	}
	return nil
}
