package ingest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/ingest/chunk"
	"github.com/quantumflow/quantumflow/internal/ingest/lang"
	"github.com/quantumflow/quantumflow/internal/ingest/parse"
	"github.com/quantumflow/quantumflow/internal/ingest/scan"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
	"github.com/quantumflow/quantumflow/internal/ingest/tokens"
)

// storageOutput is storage's output, what the indexing steps need.
type storageOutput struct {
	fileMeta
	FileID  int64 `json:"file_id"`
	Symbols int   `json:"symbols"`
	Chunks  int   `json:"chunks"`
}

// errNotSettled rolls back a transaction whose node was already settled
// (a replay after a crash, or a node cancelled meanwhile): what it wrote
// must not happen twice.
var errNotSettled = errors.New("node already settled")

// writeAndComplete runs write and then completes the running node with
// output in one transaction on pool, so the step's writes and its node's
// completion commit together or not at all. A node that was already
// settled rolls everything back and is no error: the writes belonged to
// the run that settled it.
func writeAndComplete(ctx context.Context, pool *pgxpool.Pool, write func(tx pgx.Tx) (output any, err error)) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		output, err := write(tx)
		if err != nil {
			return err
		}
		if err := flow.SetOutput(ctx, output); err != nil {
			return err
		}
		settled, err := flow.CompleteNodeTx(ctx, tx)
		if err != nil {
			return err
		}
		if !settled {
			return errNotSettled
		}
		return nil
	})
	if errors.Is(err, errNotSettled) {
		return nil
	}
	return err
}

// storage writes the file and everything it contains in one transaction
// that also completes the node (flow.CompleteNodeTx), so a file is stored
// once and never half: a SIGKILL before the commit leaves nothing, and a
// replay after it finds the node settled and rolls its own writes back.
// A skipped file is stored as a row with its skip reason and no content.
func (s *steps) storage(ctx context.Context, job *river.Job[StorageArgs]) error {
	var syms symbolsOutput
	if err := dep(ctx, stepSymbolExtraction, &syms); err != nil {
		return err
	}
	var imps importsOutput
	if err := dep(ctx, stepImportExtraction, &imps); err != nil {
		return err
	}
	in, runID, err := runInput(ctx)
	if err != nil {
		return err
	}
	m := syms.fileMeta
	f := &store.File{
		CodebaseID: in.CodebaseID, RunID: runID, Path: m.Path, Size: m.Size, Lines: m.Lines,
		Language: m.Language, Change: m.Change, FromPath: m.From,
	}
	if m.Skip == "" {
		b, err := s.content(ctx, &m)
		if err != nil {
			return stepErr(stepStorage, m.Path, err)
		}
		// PostgreSQL text holds neither NUL nor invalid UTF-8: whatever
		// file_validation decided, such content is skipped here rather
		// than fail the run.
		switch {
		case b == nil:
		case bytes.IndexByte(b, 0) >= 0:
			m.Skip, b = lang.ReasonBinary, nil
		case !utf8.Valid(b):
			m.Skip, b = lang.ReasonInvalidUTF8, nil
		}
		if b != nil {
			f.Symbols = syms.Symbols
			f.Chunks = splitChunks(b, syms.Symbols)
			f.ChunkTexts = make([]string, len(f.Chunks))
			for i := range f.Chunks {
				f.ChunkTexts[i] = tokens.ForIndex(f.Chunks[i].Content)
			}
			f.Refs = imps.Refs
			for _, im := range imps.Imports {
				f.Imports = append(f.Imports, store.Import{
					Path: im.Path, Alias: im.Alias, LocalName: im.Local, Line: im.Line, Candidates: im.Candidates,
				})
			}
		}
	}
	f.SkipReason = m.Skip
	switch m.Skip {
	case scan.ReasonVanished, scan.ReasonUnreadable, ReasonChangedDuringIngest:
		// The content the scan hashed was not what the steps read: keep no
		// hash, so the next run ingests the file again.
	default:
		if f.Hash, err = hex.DecodeString(m.Hash); err != nil {
			return river.JobCancel(stepErr(stepStorage, m.Path, fmt.Errorf("hash %q: %w", m.Hash, err)))
		}
	}
	if m.Skip != "" {
		f.Size, f.Lines, f.Language = 0, 0, ""
	}

	out := storageOutput{fileMeta: m, Symbols: len(f.Symbols), Chunks: len(f.Chunks)}
	err = writeAndComplete(ctx, s.cfg.Pool, func(tx pgx.Tx) (any, error) {
		id, err := store.StoreFileTx(ctx, tx, f)
		out.FileID = id
		return out, err
	})
	if err != nil {
		return stepErr(stepStorage, m.Path, err)
	}
	return nil
}

// splitChunks cuts content into chunks aligned to the symbols.
func splitChunks(content []byte, symbols []parse.Symbol) []chunk.Chunk {
	spans := make([]chunk.Span, len(symbols))
	for i, s := range symbols {
		spans[i] = chunk.Span{Name: s.Name, Kind: s.Kind, StartLine: s.StartLine, EndLine: s.EndLine}
	}
	return chunk.Split(content, spans)
}
