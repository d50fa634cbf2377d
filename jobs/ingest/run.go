package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/ingest/graph"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
)

// graphOutput is code_graph_building's output.
type graphOutput struct {
	Changed bool `json:"changed"` // false: nothing changed, nothing done
	Files   int  `json:"files"`
	Edges   int  `json:"edges"`
	Imports int  `json:"imports"` // import edges re-resolved into the run's files
	Refs    int  `json:"refs"`    // reference edges re-resolved into the run's files
	// Analyzed is true when the run changed enough files
	// (store.AnalyzeThreshold) to refresh the code tables' statistics.
	Analyzed bool `json:"analyzed,omitempty"`
}

// scanOutput returns the scan's output: from the deps when the scan
// completed, else from its node (an expanded scan with a failed member is
// failed, and its dependents see no output); ok is false when the scan
// produced none (it failed itself).
func (s *steps) scanOutput(ctx context.Context, runID string) (out ingest.ScanOutput, node *store.Node, ok bool, err error) {
	node, err = store.NodeOf(ctx, s.cfg.Pool, runID, ingest.NodeScan)
	if err != nil {
		return out, nil, false, err
	}
	if len(node.Output) == 0 || string(node.Output) == "null" {
		return out, node, false, nil
	}
	if err := json.Unmarshal(node.Output, &out); err != nil {
		return out, node, false, fmt.Errorf("scan output: %w", err)
	}
	return out, node, true, nil
}

// codeGraphBuilding re-resolves the edges into the files this run stored
// (set-based, over the codebase), ranks every file by PageRank over the
// import and reference edges, writes the ranks with one statement, and
// refreshes the search structures, in one transaction. A run that changed
// nothing does nothing.
func (s *steps) codeGraphBuilding(ctx context.Context, job *river.Job[CodeGraphBuildingArgs]) error {
	in, runID, err := runInput(ctx)
	if err != nil {
		return err
	}
	sc, _, ok, err := s.scanOutput(ctx, runID)
	if err != nil {
		return fmt.Errorf("code_graph_building of %s: %w", in.Codebase, err)
	}
	touched := 0 // files the scan found new, changed or removed
	if ok {
		touched = sc.Files.New + sc.Files.Changed + sc.Files.Removed
	}
	changed := touched > 0
	if !changed {
		if changed, err = store.RunStoredFiles(ctx, s.cfg.Pool, runID); err != nil {
			return fmt.Errorf("code_graph_building of %s: %w", in.Codebase, err)
		}
	}
	out := graphOutput{Changed: changed}
	if !changed {
		return flow.SetOutput(ctx, out)
	}
	if touched >= store.AnalyzeThreshold {
		// Statistics first: the re-resolution below is planned with them
		// (without, the planner's guesses for tables filled from nothing
		// were measured at 15 s for it; with them, 7 s).
		if err := store.Analyze(ctx, s.cfg.Pool); err != nil {
			return fmt.Errorf("code_graph_building of %s: %w", in.Codebase, err)
		}
		out.Analyzed = true
	}
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var err error
		if out.Imports, out.Refs, err = store.ResolveRunEdgesTx(ctx, tx, in.CodebaseID, runID); err != nil {
			return err
		}
		files, edges, err := store.CodebaseGraph(ctx, tx, in.CodebaseID)
		if err != nil {
			return err
		}
		index := make(map[int64]int, len(files))
		for i, id := range files {
			index[id] = i
		}
		ge := make([]graph.Edge, 0, len(edges))
		for _, e := range edges {
			from, ok1 := index[e.From]
			to, ok2 := index[e.To]
			if ok1 && ok2 {
				ge = append(ge, graph.Edge{From: from, To: to, Weight: e.Weight})
			}
		}
		ranks := graph.PageRank(len(files), ge)
		if err := store.SetRanksTx(ctx, tx, files, ranks); err != nil {
			return err
		}
		out.Files, out.Edges = len(files), len(ge)
		return ingest.RefreshSearchTx(ctx, tx, in.CodebaseID)
	})
	if err != nil {
		return fmt.Errorf("code_graph_building of %s: %w", in.Codebase, err)
	}
	return flow.SetOutput(ctx, out)
}

// completionNotification writes the run's row and sends its notification
// (ingest.NotifyChannel) in the transaction that completes the node, so the
// notification goes out exactly once, when the run's last node completes.
// The run is failed when a step failed for good or the scan did not
// finish; the notification names the first failed steps.
func (s *steps) completionNotification(ctx context.Context, job *river.Job[CompletionNotificationArgs]) error {
	in, runID, err := runInput(ctx)
	if err != nil {
		return err
	}
	sc, scanNode, _, err := s.scanOutput(ctx, runID)
	if err != nil {
		return fmt.Errorf("completion_notification of %s: %w", in.Codebase, err)
	}
	failed, total, err := store.FailedNodes(ctx, s.cfg.Pool, runID, ingest.MaxFailedListed)
	if err != nil {
		return fmt.Errorf("completion_notification of %s: %w", in.Codebase, err)
	}
	totals, err := store.RunTotalsOf(ctx, s.cfg.Pool, in.CodebaseID, runID)
	if err != nil {
		return fmt.Errorf("completion_notification of %s: %w", in.Codebase, err)
	}
	var schema string
	if err := s.cfg.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("completion_notification of %s: current schema: %w", in.Codebase, err)
	}
	n := ingest.Notification{
		Run: runID, Schema: schema, Codebase: in.Codebase, Status: ingest.StatusCompleted, Files: sc.Files,
		Symbols: totals.Symbols, Chunks: totals.Chunks, StartedAt: in.SubmittedAt, FinishedAt: time.Now().UTC(),
		Failed: total,
	}
	if scanNode.State == "cancelled" && scanNode.Error != "" {
		// The scan cancels itself when the root is gone: not a failed
		// node, but the run did not happen.
		n.Failed++
		n.FailedSteps = append(n.FailedSteps, ingest.FailedStep{Node: ingest.NodeScan, Step: ingest.NodeScan, Error: scanNode.Error})
	}
	for _, f := range failed {
		if len(n.FailedSteps) == ingest.MaxFailedListed {
			break
		}
		n.FailedSteps = append(n.FailedSteps, ingest.FailedStep{Node: f.Path, Step: path.Base(f.Path), Path: f.File, Error: f.Error})
	}
	if n.Failed > 0 {
		n.Status = ingest.StatusFailed
	}
	payload, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if len(payload) > 7900 {
		// pg_notify's payload must stay under 8000 bytes: drop the list
		// (the count stays; status names the nodes).
		n.FailedSteps = n.FailedSteps[:min(1, len(n.FailedSteps))]
		if len(n.FailedSteps) == 1 && len(n.FailedSteps[0].Error) > 2000 {
			n.FailedSteps[0].Error = n.FailedSteps[0].Error[:2000] + "…"
		}
		if payload, err = json.Marshal(n); err != nil {
			return err
		}
	}
	counts, err := json.Marshal(n.Files)
	if err != nil {
		return err
	}
	err = writeAndComplete(ctx, s.cfg.Pool, func(tx pgx.Tx) (any, error) {
		return n, store.FinishRunTx(ctx, tx, runID, in.CodebaseID, n.Status, counts, n.StartedAt, ingest.NotifyChannel, payload)
	})
	if err != nil {
		return fmt.Errorf("completion_notification of %s: %w", in.Codebase, err)
	}
	return nil
}
