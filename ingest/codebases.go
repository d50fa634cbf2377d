package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Codebase is one ingested codebase, in the JSON shape of `enqueue
// codebases -o json` (docs/SPEC.md, "Code ingestion").
type Codebase struct {
	Name string `json:"name"`
	// Root is the absolute path the runs ingested.
	Root string `json:"root"`
	// Files counts the ingested files (not the skipped ones, which
	// Skipped counts).
	Files   int `json:"files"`
	Skipped int `json:"skipped"`
	Symbols int `json:"symbols"`
	Chunks  int `json:"chunks"`
	// LastRun is the run that finished last; nil before the first one.
	LastRun *LastRun `json:"last_run"`
}

// LastRun is a codebase's latest finished run.
type LastRun struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	FinishedAt time.Time `json:"finished_at"`
}

// Codebases lists every codebase by name with what it holds and its last
// run (from qf_ingest_run).
func Codebases(ctx context.Context, pool *pgxpool.Pool) ([]Codebase, error) {
	rows, err := pool.Query(ctx, `
SELECT cb.name, cb.root,
       (SELECT count(*) FROM qf_code_file f WHERE f.codebase_id = cb.id AND f.skip_reason IS NULL),
       (SELECT count(*) FROM qf_code_file f WHERE f.codebase_id = cb.id AND f.skip_reason IS NOT NULL),
       (SELECT count(*) FROM qf_code_symbol s WHERE s.codebase_id = cb.id),
       (SELECT count(*) FROM qf_code_chunk c WHERE c.codebase_id = cb.id),
       r.run_id, r.status, r.finished_at
FROM qf_codebase cb
LEFT JOIN LATERAL (
    SELECT run_id, status, finished_at FROM qf_ingest_run
    WHERE codebase_id = cb.id ORDER BY finished_at DESC LIMIT 1
) r ON true
ORDER BY cb.name`)
	if err != nil {
		return nil, fmt.Errorf("list codebases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Codebase, error) {
		var c Codebase
		var id, status *string
		var at *time.Time
		if err := r.Scan(&c.Name, &c.Root, &c.Files, &c.Skipped, &c.Symbols, &c.Chunks, &id, &status, &at); err != nil {
			return c, err
		}
		if id != nil {
			c.LastRun = &LastRun{ID: *id, Status: *status, FinishedAt: *at}
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list codebases: %w", err)
	}
	if out == nil {
		out = []Codebase{}
	}
	return out, nil
}
