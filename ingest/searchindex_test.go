package ingest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/ingest/embed"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

func refresh(t *testing.T, db *pgtest.DB, cb int64) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return RefreshSearchTx(ctx, tx, cb) }))
}

// TestRefreshSearch: the segments RefreshSearchTx builds give semantic
// search the answers of ranking every chunk; a file stored after the
// refresh is found before the next one; a file's new centroid reaches its
// segment; a skipped file's is dropped.
func TestRefreshSearch(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	cb := insertCodebase(t, db.Pool, "demo", demoFiles())
	queries := []string{"parse http request", "render page", "open", "listen and serve", "config path"}
	before := map[string][]string{}
	for _, q := range queries {
		before[q] = paths(doSearch(t, db.Pool, SearchOptions{Query: q, Mode: ModeSemantic, Limit: 3}))
	}

	refresh(t, db, cb)
	var segs, files, centroids int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(count), 0) FROM qf_search_segment WHERE codebase_id = $1`, cb).Scan(&segs, &files))
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM qf_code_centroid WHERE codebase_id = $1`, cb).Scan(&centroids))
	require.Equal(t, 1, segs)
	require.Equal(t, 5, files, "one centroid per ingested file (not the skipped one)")
	require.Equal(t, 5, centroids)
	for _, q := range queries {
		require.Equal(t, before[q], paths(doSearch(t, db.Pool, SearchOptions{Query: q, Mode: ModeSemantic, Limit: 3})), q)
	}

	// A file stored after the refresh is a candidate at once.
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	insertFileTx(t, tx, cb, fixtureFile{path: "crypto/hash.go", language: "go",
		chunks: []fixtureChunk{{startLine: 1, symbol: "ComputeDigest", kind: "function", content: "func ComputeDigest(b []byte) []byte { return sha(b) }\n"}}})
	require.NoError(t, tx.Commit(ctx))
	rs := doSearch(t, db.Pool, SearchOptions{Query: "compute digest", Mode: ModeSemantic, Limit: 1})
	require.Equal(t, []string{"crypto/hash.go:1"}, paths(rs))

	// A file whose vectors vector_indexing packs again gets a new centroid,
	// which the refresh packs into its segment; a skipped file loses its.
	var jsFile int64
	var oldVec, jsChunks []byte
	require.NoError(t, db.Pool.QueryRow(ctx, `
SELECT c.file_id, c.vector, c.chunk_ids FROM qf_code_centroid c JOIN qf_code_file f ON f.id = c.file_id
WHERE f.path = 'web/index.js'`).Scan(&jsFile, &oldVec, &jsChunks))
	chunkIDs := unpackIDs(jsChunks)
	texts := make([]string, len(chunkIDs))
	for i := range texts {
		texts[i] = "func ListenAndServe(addr string) error { return serve(addr) }"
	}
	vs, err := testEmbedder.Embed(ctx, texts)
	require.NoError(t, err)
	vectors := make([][]byte, len(vs))
	for i, v := range vs {
		vectors[i] = embed.Quantize(v)
	}
	require.NoError(t, store.PutFileVectors(ctx, db.Pool, cb, jsFile, chunkIDs, vectors))
	_, err = db.Pool.Exec(ctx, `UPDATE qf_code_file SET skip_reason = 'vanished' WHERE path = 'app/main.py'`)
	require.NoError(t, err)
	refresh(t, db, cb)
	var newVec []byte
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT vector FROM qf_code_centroid WHERE file_id = $1`, jsFile).Scan(&newVec))
	require.NotEqual(t, oldVec, newVec)
	got, err := (&search{ids: []int64{cb}}).readSegments(ctx, db.Pool)
	require.NoError(t, err)
	require.Len(t, got, 1)
	inSegment := false
	for i, id := range got[0].fileIDs {
		if id == jsFile {
			inSegment = true
			require.Equal(t, newVec, got[0].vector(i), "the segment holds the new centroid")
		}
	}
	require.True(t, inSegment)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT coalesce(sum(count), 0) FROM qf_search_segment WHERE codebase_id = $1`, cb).Scan(&files))
	require.Equal(t, 5, files, "crypto/hash.go in, app/main.py out")

	// Idempotent: a second refresh changes nothing.
	refresh(t, db, cb)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT coalesce(sum(count), 0) FROM qf_search_segment WHERE codebase_id = $1`, cb).Scan(&files))
	require.Equal(t, 5, files)
}

// TestRefreshSearchSegments: more files than one segment holds are split
// over several, and all of them are read back.
func TestRefreshSearchSegments(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	n := segmentFiles + 10
	files := make([]fixtureFile, 0, n)
	for i := 0; i < n; i++ {
		files = append(files, fixtureFile{path: "f/" + itoa(i) + ".go", language: "go",
			chunks: []fixtureChunk{{startLine: 1, content: "func F" + itoa(i) + "() { return someValue }\n"}}})
	}
	cb := insertCodebase(t, db.Pool, "big", files)
	refresh(t, db, cb)
	var segs, count int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), sum(count) FROM qf_search_segment WHERE codebase_id = $1`, cb).Scan(&segs, &count))
	require.Equal(t, n, count)
	require.Equal(t, 2, segs)
	s := &search{ids: []int64{cb}}
	got, err := s.readSegments(ctx, db.Pool)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, n, len(got[0].fileIDs)+len(got[1].fileIDs))
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}
