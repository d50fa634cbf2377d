package ingest

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/quantumflow/quantumflow/internal/ingest/embed"
)

// candidateFiles is how many files, picked by centroid, semantic search
// ranks the chunks of (at least; the limit when that is more);
// hybridCandidateFiles in hybrid search, which has three other rankings.
// Measured recall@10 against ranking every chunk (docs/INGESTION.md): 0.43
// with 64 files, 0.61 with 256, 0.81 with 1024, at 2, 3 and 5 times the
// latency of 64.
const (
	candidateFiles       = 256
	hybridCandidateFiles = 64
)

// vectorHits ranks chunks by the cosine similarity of their vectors to the
// query's. Files are picked first by their centroids (the packed segments
// RefreshSearchTx builds), and only their chunk vectors are ranked, read
// packed from their qf_code_centroid rows, as are those of the files
// stored since the segments were built. A codebase without segments
// (never refreshed) has all its packed chunk vectors ranked.
func (s *search) vectorHits(ctx context.Context, pool *pgxpool.Pool, limit int) ([]hit, error) {
	vs, err := s.Embedder.Embed(ctx, []string{s.Query})
	if err != nil {
		return nil, fmt.Errorf("embed the query with %s: %w", s.Embedder.Model(), err)
	}
	if len(vs) != 1 {
		return nil, fmt.Errorf("embed the query with %s: got %d vectors for 1 text", s.Embedder.Model(), len(vs))
	}
	q := embed.Quantize(vs[0])
	var segs []segment
	var allowed map[int64]bool
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { segs, err = s.readSegments(gctx, pool); return })
	if s.Lang != "" || s.pathRegex != "" {
		g.Go(func() (err error) { allowed, err = s.allowedFiles(gctx, pool); return })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Pick the candidate files by centroid.
	type scored struct {
		id    int64
		score float32
	}
	var files []scored
	segmented := map[int64]time.Time{} // codebase → oldest segment
	for i := range segs {
		sg := &segs[i]
		if t, ok := segmented[sg.codebaseID]; !ok || sg.builtAt.Before(t) {
			segmented[sg.codebaseID] = sg.builtAt
		}
		if sg.dims != len(q) {
			continue // another model's vectors: resolve refused mismatched models already
		}
		for j, id := range sg.fileIDs {
			if allowed != nil && !allowed[id] {
				continue
			}
			files = append(files, scored{id, embed.Cosine(q, sg.vector(j))})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].score > files[j].score })
	nFiles := candidateFiles
	if s.Mode == ModeHybrid {
		nFiles = hybridCandidateFiles
	}
	files = files[:min(len(files), max(nFiles, limit))]
	var fresh []int64 // stored since the refresh: their packed vectors may be stale
	isFresh := map[int64]bool{}
	for _, sg := range segs {
		for _, id := range sg.fresh {
			fresh = append(fresh, id)
			isFresh[id] = true
		}
	}
	fileIDs := make([]int64, 0, len(files))
	for _, f := range files {
		if !isFresh[f.id] {
			fileIDs = append(fileIDs, f.id)
		}
	}
	var whole []int64 // codebases without segments: every file
	for _, id := range s.ids {
		if _, ok := segmented[id]; !ok {
			whole = append(whole, id)
		}
	}

	var hits []hit
	// Chunk vectors come packed from the files' qf_code_centroid rows: the
	// candidate files' and the fresh files' by file (storage drops a
	// file's row when it replaces the chunks, vector_indexing writes the
	// new one, so a row always names the current chunks), the unsegmented
	// codebases' by codebase.
	if ids := append(fileIDs, fresh...); len(ids) > 0 {
		if hits, err = s.rankPacked(ctx, pool, q, hits, `c.file_id = ANY($4)`, ids); err != nil {
			return nil, err
		}
	}
	if len(whole) > 0 {
		if hits, err = s.rankPacked(ctx, pool, q, hits, `c.codebase_id = ANY($4)`, whole); err != nil {
			return nil, err
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].chunkID < hits[j].chunkID
	})
	return hits[:min(len(hits), limit)], nil
}

// readSegments reads the packed centroids of the search's codebases, and
// with the first segment of each the files stored since the segments
// were built that pass the filters (qf_code_file_stored): one round trip.
func (s *search) readSegments(ctx context.Context, pool *pgxpool.Pool) ([]segment, error) {
	rows, err := pool.Query(ctx, `
SELECT s.codebase_id, s.dims, s.file_ids, s.vectors, s.built_at,
       CASE WHEN s.seg = 0 THEN ARRAY(
           SELECT f.id FROM qf_code_file f
           WHERE f.codebase_id = s.codebase_id AND f.stored_at >= s.built_at AND `+fileFilter+`
       ) END
FROM qf_search_segment s
WHERE s.codebase_id = ANY($1) ORDER BY s.codebase_id, s.seg`, s.filterArgs()...)
	if err != nil {
		return nil, fmt.Errorf("read search segments: %w", err)
	}
	defer rows.Close()
	var segs []segment
	for rows.Next() {
		var sg segment
		var ids []byte
		if err := rows.Scan(&sg.codebaseID, &sg.dims, &ids, &sg.vectors, &sg.builtAt, &sg.fresh); err != nil {
			return nil, fmt.Errorf("read search segments: %w", err)
		}
		sg.fileIDs = unpackIDs(ids)
		if len(sg.vectors) != len(sg.fileIDs)*sg.dims {
			return nil, fmt.Errorf("search segment of codebase %d is corrupt: %d bytes for %d vectors of %d", sg.codebaseID, len(sg.vectors), len(sg.fileIDs), sg.dims)
		}
		segs = append(segs, sg)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read search segments: %w", err)
	}
	return segs, nil
}

// allowedFiles returns the ids of the files that pass --lang and --path.
func (s *search) allowedFiles(ctx context.Context, pool *pgxpool.Pool) (map[int64]bool, error) {
	rows, err := pool.Query(ctx, `SELECT f.id FROM qf_code_file f WHERE f.codebase_id = ANY($1) AND `+fileFilter, s.filterArgs()...)
	if err != nil {
		return nil, fmt.Errorf("filter files: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("filter files: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// rankPacked scores the packed chunk vectors (qf_code_centroid) of the
// files that match cond (on $4 = arg) and pass the search's filters,
// appending them to hits.
func (s *search) rankPacked(ctx context.Context, pool *pgxpool.Pool, q []byte, hits []hit, cond string, arg []int64) ([]hit, error) {
	rows, err := pool.Query(ctx, `
SELECT c.chunk_ids, c.chunk_vectors
FROM qf_code_centroid c
JOIN qf_code_file f ON f.id = c.file_id
WHERE `+cond+` AND c.codebase_id = ANY($1) AND `+fileFilter, s.filterArgs(arg)...)
	if err != nil {
		return nil, fmt.Errorf("read packed chunk vectors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ids, vectors []byte
		if err := rows.Scan(&ids, &vectors); err != nil {
			return nil, fmt.Errorf("read packed chunk vectors: %w", err)
		}
		chunkIDs := unpackIDs(ids)
		if len(chunkIDs) == 0 || len(vectors) != len(chunkIDs)*len(q) {
			continue // another model's vectors
		}
		for i, id := range chunkIDs {
			hits = append(hits, hit{chunkID: id, score: float64(embed.Cosine(q, vectors[i*len(q):(i+1)*len(q)]))})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read packed chunk vectors: %w", err)
	}
	return hits, nil
}
