package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Version is one entry of a file's history, in the JSON shape of `enqueue
// history -o json` (docs/SPEC.md, "Code ingestion").
type Version struct {
	// Hash is the SHA-256 of the content, in hex (for a removal, of the
	// content removed); nil when the run recorded none.
	Hash *string `json:"hash"`
	// Change is added, modified, removed or renamed.
	Change string `json:"change"`
	// Run is the ingest run (workflow id) that saw the change.
	Run string `json:"run"`
	// At is when the run stored the change.
	At time.Time `json:"at"`
	// FromPath is the file's previous path, for a rename.
	FromPath string `json:"from_path,omitempty"`
}

// History returns the versions of the file at p in the named codebase,
// oldest first; empty when no run saw the path. p is relative to the
// codebase's root (with / or the OS separator; "./" and ".." are cleaned)
// or an absolute path inside the root. It returns an error wrapping
// ErrCodebaseNotFound for an unknown codebase and ErrBadOption for a path
// outside the root.
func History(ctx context.Context, pool *pgxpool.Pool, codebase, p string) ([]Version, error) {
	var id int64
	var root string
	err := pool.QueryRow(ctx, `SELECT id, root FROM qf_codebase WHERE name = $1`, codebase).Scan(&id, &root)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("history: %w: %q", ErrCodebaseNotFound, codebase)
	}
	if err != nil {
		return nil, fmt.Errorf("history: read codebase %q: %w", codebase, err)
	}
	rel, err := relPath(root, p)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", p, err)
	}
	rows, err := pool.Query(ctx, `
SELECT hash, change, run_id, at, coalesce(from_path, '')
FROM qf_code_version
WHERE codebase_id = $1 AND path = $2
ORDER BY at, run_id`, id, rel)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", rel, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Version, error) {
		var v Version
		var hash []byte
		if err := r.Scan(&hash, &v.Change, &v.Run, &v.At, &v.FromPath); err != nil {
			return v, err
		}
		if hash != nil {
			h := hex.EncodeToString(hash)
			v.Hash = &h
		}
		return v, nil
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", rel, err)
	}
	if out == nil {
		out = []Version{}
	}
	return out, nil
}

// relPath turns p into a path relative to root with / separators, as the
// tables keep it.
func relPath(root, p string) (string, error) {
	if filepath.IsAbs(p) {
		r, err := filepath.Rel(root, p)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("%w: %s is outside the codebase root %s", ErrBadOption, p, root)
		}
		p = r
	}
	rel := path.Clean(filepath.ToSlash(p))
	if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("%w: %q is not a file path inside the codebase", ErrBadOption, p)
	}
	return rel, nil
}
