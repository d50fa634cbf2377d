package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RunTotals are what a run stored: the symbols and chunks of the files it
// stored.
type RunTotals struct {
	Symbols, Chunks int
}

// RunStoredFiles reports whether runID wrote any file row of the codebase.
func RunStoredFiles(ctx context.Context, q Querier, runID string) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM qf_code_file WHERE run_id = $1)`, runID).Scan(&ok); err != nil {
		return false, fmt.Errorf("files of run %s: %w", runID, err)
	}
	return ok, nil
}

// RunTotalsOf counts the symbols and chunks of the files stored by runID.
func RunTotalsOf(ctx context.Context, q Querier, codebaseID int64, runID string) (RunTotals, error) {
	var t RunTotals
	err := q.QueryRow(ctx, `
SELECT (SELECT count(*) FROM qf_code_symbol s JOIN qf_code_file f ON f.id = s.file_id
        WHERE f.codebase_id = $1 AND f.run_id = $2),
       (SELECT count(*) FROM qf_code_chunk c JOIN qf_code_file f ON f.id = c.file_id
        WHERE f.codebase_id = $1 AND f.run_id = $2)`, codebaseID, runID).Scan(&t.Symbols, &t.Chunks)
	if err != nil {
		return t, fmt.Errorf("totals of run %s: %w", runID, err)
	}
	return t, nil
}

// FinishRunTx inserts the run's row (once: a replay keeps the first) and
// sends payload on channel with pg_notify, in tx: PostgreSQL delivers the
// notification when tx commits, and not at all if it rolls back.
func FinishRunTx(ctx context.Context, tx pgx.Tx, runID string, codebaseID int64, status string, counts json.RawMessage,
	startedAt time.Time, channel string, payload []byte) error {
	if _, err := tx.Exec(ctx, `
INSERT INTO qf_ingest_run (run_id, codebase_id, status, counts, started_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (run_id) DO NOTHING`, runID, codebaseID, status, counts, startedAt); err != nil {
		return fmt.Errorf("finish run %s: %w", runID, err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, string(payload)); err != nil {
		return fmt.Errorf("finish run %s: notify %s: %w", runID, channel, err)
	}
	return nil
}

// The engine's node table (qf_node) is read for what a run-level node
// cannot get from flow.DepOutputs: the scan's output when the scan failed
// as a whole (an expanded node whose members failed is failed, and its
// dependents see no output), and the failed nodes that the notification
// names. Both use qf_node's indexes: (workflow_id, path) and the primary
// key (workflow_id, idx).

// Node is what qf_node holds of a node: its state ("waiting", "enqueued",
// "active", "completed", "failed", "cancelled" or "skipped"), its output
// (nil while it has none) and its error.
type Node struct {
	State  string
	Output json.RawMessage
	Error  string
}

// NodeOf returns the node at path in workflow id.
func NodeOf(ctx context.Context, q Querier, workflowID, path string) (*Node, error) {
	var n Node
	err := q.QueryRow(ctx, `
SELECT state, output, coalesce(error, '') FROM qf_node WHERE workflow_id = $1 AND path = $2`,
		workflowID, path).Scan(&n.State, &n.Output, &n.Error)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("node %s of workflow %s: not found", path, workflowID)
	}
	if err != nil {
		return nil, fmt.Errorf("node %s of workflow %s: %w", path, workflowID, err)
	}
	return &n, nil
}

// FailedNode is a leaf that failed, with its error and the file it was
// for ("" for a run-level node).
type FailedNode struct {
	Path  string
	File  string
	Error string
}

// FailedNodes returns up to limit failed leaves of the workflow in plan
// order, and how many there are in all.
func FailedNodes(ctx context.Context, q Querier, workflowID string, limit int) ([]FailedNode, int, error) {
	rows, err := q.Query(ctx, `
SELECT n.path, coalesce(n.args->>'path', d.args->>'path', ''), coalesce(n.error, ''), count(*) OVER ()
FROM qf_node n
LEFT JOIN qf_node d ON d.workflow_id = n.workflow_id
     AND d.path = regexp_replace(n.path, '[^/]*$', '') || 'file_detection'
WHERE n.workflow_id = $1 AND n.state = 'failed' AND n.kind IS NOT NULL
  AND n.failed_children = 0 -- an expanded node failed by its members is not a failed step
ORDER BY n.idx LIMIT $2`, workflowID, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("failed nodes of workflow %s: %w", workflowID, err)
	}
	var (
		out   []FailedNode
		total int
		n     FailedNode
	)
	_, err = pgx.ForEachRow(rows, []any{&n.Path, &n.File, &n.Error, &total}, func() error {
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("failed nodes of workflow %s: %w", workflowID, err)
	}
	return out, total, nil
}

// AnalyzeThreshold is how many files a run must add, change or remove
// before code_graph_building refreshes the planner's statistics of the
// code tables (Analyze): below it the statistics of the tables' earlier
// state still describe them.
const AnalyzeThreshold = 500

// Analyze refreshes the planner's statistics of the code tables. A first
// ingest fills them from nothing, and search's plans (index scans on
// names, trigram and full-text lookups) depend on knowing their sizes:
// without statistics the planner guesses, and the guesses measured on the
// Go standard library swung symbol search's p95 from 10 ms to 140 ms.
// Autovacuum would analyze them eventually, where it is on, up to a
// minute or more after the run; this makes the run's end the moment
// search is fast. ANALYZE takes a lock that blocks neither reads nor
// writes, and samples a bounded number of rows per table.
func Analyze(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, `ANALYZE qf_code_file, qf_code_symbol, qf_code_chunk, qf_code_import, qf_code_ref, qf_code_edge, qf_code_centroid`); err != nil {
		return fmt.Errorf("analyze code tables: %w", err)
	}
	return nil
}
