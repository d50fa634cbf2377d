package release

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// Pause scopes (qf_pause.scope).
const (
	ScopeWorkflow = "workflow"
	ScopeKind     = "kind"
)

// holdPausedTx returns the leaves whose workflow and kind are not paused;
// the others become paused. It runs after the statements that locked the
// leaves' rows (made them ready, or promoted them), so it sees a pause
// committed before those locks were granted; a pause that commits later
// waited for this transaction (PauseTx locks the rows it pauses) and holds
// the jobs inserted here.
func holdPausedTx(ctx context.Context, tx pgx.Tx, leaves []riverjob.Leaf) ([]riverjob.Leaf, error) {
	if len(leaves) == 0 {
		return leaves, nil
	}
	wfs, kinds := map[string]bool{}, map[string]bool{}
	for i := range leaves {
		l := &leaves[i]
		wfs[l.WF] = true
		if l.Kind != nil {
			kinds[*l.Kind] = true
		}
	}
	rows, err := tx.Query(ctx, `
SELECT scope, target FROM qf_pause
WHERE (scope = 'workflow' AND target = ANY($1)) OR (scope = 'kind' AND target = ANY($2))`, keys(wfs), keys(kinds))
	if err != nil {
		return nil, fmt.Errorf("read pauses: %w", err)
	}
	paused := map[[2]string]bool{}
	var scope, target string
	if _, err := pgx.ForEachRow(rows, []any{&scope, &target}, func() error {
		paused[[2]string{scope, target}] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read pauses: %w", err)
	}
	if len(paused) == 0 {
		return leaves, nil
	}
	var run []riverjob.Leaf
	var heldWFs []string
	var heldIdxs []int32
	for _, l := range leaves {
		if paused[[2]string{ScopeWorkflow, l.WF}] || (l.Kind != nil && paused[[2]string{ScopeKind, *l.Kind}]) {
			heldWFs, heldIdxs = append(heldWFs, l.WF), append(heldIdxs, l.Idx)
			continue
		}
		run = append(run, l)
	}
	if _, err := tx.Exec(ctx, `
UPDATE qf_node q SET state = 'paused'
FROM unnest($1::uuid[], $2::int[]) AS p(workflow_id, idx)
WHERE q.workflow_id = p.workflow_id AND q.idx = p.idx AND q.state = 'enqueued'`, heldWFs, heldIdxs); err != nil {
		return nil, fmt.Errorf("pause %d ready nodes: %w", len(heldWFs), err)
	}
	return run, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// PauseTx pauses a workflow (scope ScopeWorkflow, target its id) or a kind
// in tx: from its commit nothing new of it starts. It records the pause,
// locks the nodes that could be released (so a release running now either
// commits first, and its jobs are held below, or waits and sees the pause),
// and holds the River jobs not yet running (riverjob.HoldTx). Running jobs
// finish. It returns the number of jobs held and false when the target was
// already paused.
func PauseTx(ctx context.Context, tx pgx.Tx, scope, target string) (int, bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO qf_pause (scope, target) VALUES ($1, $2) ON CONFLICT DO NOTHING`, scope, target)
	if err != nil {
		return 0, false, fmt.Errorf("record pause: %w", err)
	}
	lock := `SELECT 1 FROM qf_node WHERE workflow_id = $1::uuid AND state IN ('waiting', 'throttled', 'enqueued', 'active') ORDER BY idx FOR UPDATE`
	if scope == ScopeKind {
		lock = `SELECT 1 FROM qf_node WHERE kind = $1 AND state IN ('waiting', 'throttled', 'enqueued') ORDER BY workflow_id, idx FOR UPDATE`
	}
	if _, err := tx.Exec(ctx, lock, target); err != nil {
		return 0, false, fmt.Errorf("lock nodes: %w", err)
	}
	held, err := riverjob.HoldTx(ctx, tx, scope == ScopeKind, target)
	if err != nil {
		return 0, false, err
	}
	return held, tag.RowsAffected() == 1, nil
}

// ResumeTx lifts a pause in tx: held jobs go back to their schedule
// (unless another pause still covers them), paused nodes get their jobs
// through StartTx, and the concurrency queues the target's waiters are in
// are looked at again. It returns the number of jobs released and false
// when the target was not paused.
func ResumeTx(ctx context.Context, tx pgx.Tx, rc *river.Client[pgx.Tx], scope, target string) (int, bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM qf_pause WHERE scope = $1 AND target = $2`, scope, target)
	if err != nil {
		return 0, false, fmt.Errorf("remove pause: %w", err)
	}
	released, err := riverjob.UnholdTx(ctx, tx, scope == ScopeKind, target)
	if err != nil {
		return 0, false, err
	}
	match := `q.workflow_id = $1::uuid`
	if scope == ScopeKind {
		match = `q.kind = $1`
	}
	rows, err := tx.Query(ctx, `
UPDATE qf_node q SET state = 'enqueued' WHERE `+match+` AND q.state = 'paused'
RETURNING `+riverjob.LeafColumns, target)
	if err != nil {
		return 0, false, fmt.Errorf("resume paused nodes: %w", err)
	}
	leaves, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (riverjob.Leaf, error) {
		var l riverjob.Leaf
		err := row.Scan(l.Dest()...)
		return l, err
	})
	if err != nil {
		return 0, false, fmt.Errorf("resume paused nodes: %w", err)
	}
	// Paused nodes keep any slot they held: they are inserted directly.
	// Waiters of the target in concurrency queues were skipped while it was
	// paused; a zero entry in freed makes StartTx look at their keys.
	kick := Slots{}
	rows, err = tx.Query(ctx, `
SELECT DISTINCT q.conc_key FROM qf_node q WHERE `+match+` AND q.state = 'throttled'`, target)
	if err != nil {
		return 0, false, fmt.Errorf("find queues: %w", err)
	}
	var key string
	if _, err := pgx.ForEachRow(rows, []any{&key}, func() error { kick[key] = 0; return nil }); err != nil {
		return 0, false, fmt.Errorf("find queues: %w", err)
	}
	// holdPausedTx inside StartTx keeps nodes another pause still covers.
	n, err := startUnqueued(ctx, tx, rc, leaves, kick)
	if err != nil {
		return 0, false, err
	}
	return released + n, tag.RowsAffected() == 1, nil
}

// startUnqueued inserts leaves that already hold whatever slot they need
// (bypassing the concurrency queue) and runs StartTx's admission for the
// keys in kick.
func startUnqueued(ctx context.Context, tx pgx.Tx, rc *river.Client[pgx.Tx], leaves []riverjob.Leaf, kick Slots) (int, error) {
	plain := make([]riverjob.Leaf, len(leaves))
	for i, l := range leaves {
		if l.Ctl != nil && l.Ctl.ConcKey != nil {
			f := *l.Ctl
			f.ConcKey = nil // already holds its slot
			l.Ctl = &f
		}
		plain[i] = l
	}
	return StartTx(ctx, tx, rc, plain, kick)
}
