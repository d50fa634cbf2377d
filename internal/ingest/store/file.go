package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/internal/ingest/chunk"
	"github.com/quantumflow/quantumflow/internal/ingest/parse"
)

// Change kinds of qf_code_version.
const (
	ChangeAdded    = "added"
	ChangeModified = "modified"
	ChangeRemoved  = "removed"
	ChangeRenamed  = "renamed"
)

// Import is an import as stored: as written, with the name the file uses
// for it and the paths it may refer to.
type Import struct {
	Path       string
	Alias      string
	LocalName  string
	Line       int
	Candidates []string
}

// File is one file's current version with everything it contains, as the
// storage step writes it.
type File struct {
	CodebaseID int64
	RunID      string
	Path       string
	Hash       []byte // SHA-256 of the content
	Size       int64
	Language   string
	Lines      int
	// SkipReason, when set, stores the file without content: no symbols,
	// chunks, imports, refs or history row.
	SkipReason string
	// Change is the history row's change: ChangeAdded, ChangeModified or
	// ChangeRenamed.
	Change string
	// FromPath is, for a rename, the old path: its row is deleted and its
	// history gets a "removed" row in the same transaction.
	FromPath string
	Symbols  []parse.Symbol
	Chunks   []chunk.Chunk
	// ChunkTexts are the chunks' texts for full-text search (the content
	// expanded with identifier sub-tokens), one per chunk; the chunk rows
	// get their tsv from them as they are inserted. Nil leaves tsv NULL.
	ChunkTexts []string
	Imports    []Import
	Refs       []parse.Ref
}

// StoreFileTx writes f in tx: it upserts the file row, replaces its
// symbols, chunks, imports and refs, deletes a renamed file's old row and
// inserts the history rows (idempotently: a replay of the same run writes
// the same rows again). It returns the file's id. The caller completes its
// node in the same tx, so that a file is stored once and never half.
func StoreFileTx(ctx context.Context, tx pgx.Tx, f *File) (int64, error) {
	var (
		id       int64
		inserted bool
	)
	var skip, lang *string
	if f.SkipReason != "" {
		skip = &f.SkipReason
	}
	if f.Language != "" {
		lang = &f.Language
	}
	err := tx.QueryRow(ctx, `
INSERT INTO qf_code_file (codebase_id, path, hash, size, language, lines, skip_reason, run_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (codebase_id, path) DO UPDATE
    SET hash = excluded.hash, size = excluded.size, language = excluded.language,
        lines = excluded.lines, skip_reason = excluded.skip_reason,
        run_id = excluded.run_id, stored_at = now()
RETURNING id, xmax = 0`,
		f.CodebaseID, f.Path, f.Hash, f.Size, lang, f.Lines, skip, f.RunID).Scan(&id, &inserted)
	if err != nil {
		return 0, fmt.Errorf("store %s: file row: %w", f.Path, err)
	}

	b := &pgx.Batch{}
	if !inserted {
		b.Queue(`DELETE FROM qf_code_symbol WHERE file_id = $1`, id)
		b.Queue(`DELETE FROM qf_code_chunk WHERE file_id = $1`, id)
		// The packed vectors name the old chunks: vector_indexing packs
		// the new ones.
		b.Queue(`DELETE FROM qf_code_centroid WHERE file_id = $1`, id)
		b.Queue(`DELETE FROM qf_code_import WHERE file_id = $1`, id)
		b.Queue(`DELETE FROM qf_code_ref WHERE file_id = $1`, id)
		b.Queue(`DELETE FROM qf_code_edge WHERE from_file = $1`, id)
	}
	if f.SkipReason == "" {
		queueSymbols(b, id, f)
		queueChunks(b, id, f)
		queueImports(b, id, f)
		queueRefs(b, id, f)
		b.Queue(`
INSERT INTO qf_code_version (codebase_id, path, run_id, hash, change, from_path)
VALUES ($1, $2, $3, $4, $5, nullif($6, ''))
ON CONFLICT (codebase_id, path, run_id) DO NOTHING`,
			f.CodebaseID, f.Path, f.RunID, f.Hash, f.Change, f.FromPath)
	}
	if f.FromPath != "" {
		b.Queue(`
WITH gone AS (
    DELETE FROM qf_code_file WHERE codebase_id = $1 AND path = $2 RETURNING id
)
INSERT INTO qf_code_version (codebase_id, path, run_id, hash, change)
SELECT $1, $2, $3, NULL, 'removed' FROM gone
ON CONFLICT (codebase_id, path, run_id) DO NOTHING`, f.CodebaseID, f.FromPath, f.RunID)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("store %s: %w", f.Path, err)
	}
	return id, nil
}

func queueSymbols(b *pgx.Batch, id int64, f *File) {
	if len(f.Symbols) == 0 {
		return
	}
	n := len(f.Symbols)
	names, quals, kinds, sigs, docs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	starts, ends := make([]int32, n), make([]int32, n)
	for i, s := range f.Symbols {
		names[i], quals[i], kinds[i], sigs[i], docs[i] = s.Name, s.Qualified, s.Kind, s.Signature, s.Doc
		starts[i], ends[i] = int32(s.StartLine), int32(s.EndLine)
	}
	b.Queue(`
INSERT INTO qf_code_symbol (file_id, codebase_id, name, qualified, kind, start_line, end_line, signature, doc)
SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[], $9::text[])`,
		id, f.CodebaseID, names, quals, kinds, starts, ends, sigs, docs)
}

func queueChunks(b *pgx.Batch, id int64, f *File) {
	if len(f.Chunks) == 0 {
		return
	}
	n := len(f.Chunks)
	ords, starts, ends := make([]int32, n), make([]int32, n), make([]int32, n)
	syms, kinds := make([]*string, n), make([]*string, n)
	contents := make([]string, n)
	texts := make([]*string, n)
	hashes := make([][]byte, n)
	for i := range f.Chunks {
		c := &f.Chunks[i]
		ords[i], starts[i], ends[i] = int32(c.Ord), int32(c.StartLine), int32(c.EndLine)
		if c.Symbol != "" {
			syms[i] = &c.Symbol
		}
		if c.Kind != "" {
			kinds[i] = &c.Kind
		}
		contents[i] = c.Content
		hashes[i] = c.Hash[:]
		if i < len(f.ChunkTexts) {
			texts[i] = &f.ChunkTexts[i]
		}
	}
	// Written whole at once, never updated: an UPDATE of tsv later would
	// be a non-HOT update that inserts every trigram of the content into
	// the trigram index again and leaves a dead row version behind
	// (measured: chunk indexes 2.5x larger, and most of the write time).
	// The chunks' vectors live packed in qf_code_centroid (vector_indexing).
	// tsv is strip()ped: positions took half its size, and search ranks
	// with ts_rank, which needs none.
	b.Queue(`
INSERT INTO qf_code_chunk (file_id, codebase_id, ord, start_line, end_line, symbol, kind, content, hash, tsv)
SELECT $1, $2, t.o, t.s, t.e, t.sym, t.k, t.c, t.h, strip(to_tsvector('simple', t.txt))
FROM unnest($3::int[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::text[])
     AS t(o, s, e, sym, k, c, h, txt)`,
		id, f.CodebaseID, ords, starts, ends, syms, kinds, contents, hashes, texts)
}

func queueImports(b *pgx.Batch, id int64, f *File) {
	if len(f.Imports) == 0 {
		return
	}
	n := len(f.Imports)
	paths, aliases, locals, cands := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	lines := make([]int32, n)
	for i, im := range f.Imports {
		paths[i], aliases[i], locals[i], lines[i] = im.Path, im.Alias, im.LocalName, int32(im.Line)
		// Ragged arrays do not unnest: candidates travel as one
		// newline-separated string each (paths hold no newline).
		cands[i] = strings.Join(im.Candidates, "\n")
	}
	b.Queue(`
INSERT INTO qf_code_import (file_id, codebase_id, path, alias, local_name, line, candidates)
SELECT $1, $2, p, a, l, n, string_to_array(c, E'\n')
FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::text[]) AS t(p, a, l, n, c)
ON CONFLICT (file_id, path, line) DO NOTHING`,
		id, f.CodebaseID, paths, aliases, locals, lines, cands)
}

func queueRefs(b *pgx.Batch, id int64, f *File) {
	if len(f.Refs) == 0 {
		return
	}
	// The key is (qualifier, name): add up repeats.
	type key struct{ q, n string }
	counts := map[key]int{}
	for _, r := range f.Refs {
		counts[key{r.Qualifier, r.Name}] += max(r.Count, 1)
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].q != keys[j].q {
			return keys[i].q < keys[j].q
		}
		return keys[i].n < keys[j].n
	})
	quals, names, ns := make([]string, len(keys)), make([]string, len(keys)), make([]int32, len(keys))
	for i, k := range keys {
		quals[i], names[i], ns[i] = k.q, k.n, int32(counts[k])
	}
	b.Queue(`
INSERT INTO qf_code_ref (file_id, codebase_id, qualifier, name, count)
SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::int[])`,
		id, f.CodebaseID, quals, names, ns)
}

// RemoveFileTx deletes the file at path (its symbols, chunks, imports, refs
// and edges go with it) and records history "removed" for the run, in tx
// (hash NULL: the version has no content).
// A file that is already gone writes nothing; removed reports whether a
// row was deleted.
func RemoveFileTx(ctx context.Context, tx pgx.Tx, codebaseID int64, runID, path string) (removed bool, err error) {
	tag, err := tx.Exec(ctx, `
WITH gone AS (
    DELETE FROM qf_code_file WHERE codebase_id = $1 AND path = $2 RETURNING skip_reason
)
INSERT INTO qf_code_version (codebase_id, path, run_id, hash, change)
SELECT $1, $2, $3, NULL, 'removed' FROM gone WHERE skip_reason IS NULL
ON CONFLICT (codebase_id, path, run_id) DO NOTHING`, codebaseID, path, runID)
	if err != nil {
		return false, fmt.Errorf("remove %s: %w", path, err)
	}
	return tag.RowsAffected() > 0, nil
}
