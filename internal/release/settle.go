package release

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// Ref names one node.
type Ref = riverjob.Ref

// finished is a node that became final in the current transaction.
type finished struct {
	Ref
	parent     int32
	dependents []int32
	// sink is true when the node counts toward its parent's (or the
	// workflow's) remaining counter: it has no dependents, or a retry made
	// it count (rollup_sink).
	sink bool
	// failure is true for failed and cancelled: dependents count it in
	// failed_deps, parents in failed_children. Skipped and completed are
	// successes.
	failure bool
	// concKey is the concurrency key of a leaf whose job just ended (it
	// gives its slot back), nil otherwise.
	concKey *string
}

// engine settles finished nodes inside one transaction. It is not safe for
// concurrent use; build one per transaction.
type engine struct {
	tx pgx.Tx
	// ready collects the leaves that got state enqueued in this
	// transaction and need a River job.
	ready []riverjob.Leaf
	// finished counts workflows that reached a final status, by status.
	finished map[flowtype.WorkflowState]int
	// timings holds those workflows' durations.
	timings []observe.Timing
}

// stats returns what the engine did, for the Observer.
func (e *engine) stats() observe.Stats {
	return observe.Stats{Released: len(e.ready), Finished: e.finished, Timings: e.timings}
}

// settle propagates the given final nodes until nothing more changes:
// dependents are released, skipped or cancelled by policy, groups roll up,
// and workflows finish. Each round is at most four statements, and a round
// happens only when the previous one finalized something new (a cancel
// cascade, a group or a workflow completing).
func (e *engine) settle(ctx context.Context, fin []finished) error {
	for len(fin) > 0 {
		var next []finished

		released, err := e.releaseDependents(ctx, fin)
		if err != nil {
			return err
		}
		var groups []Ref
		for _, r := range released {
			switch r.state {
			case flowtype.NodeEnqueued:
				e.ready = append(e.ready, r.Leaf)
			case flowtype.NodeActive:
				groups = append(groups, r.Ref)
			case flowtype.NodeSkipped, flowtype.NodeCancelled:
				next = append(next, finished{Ref: r.Ref, parent: r.parent, dependents: r.dependents, sink: r.sink, failure: r.state.IsFailure()})
				if r.Kind == nil {
					if err := e.finalizeSubtree(ctx, r.Ref, r.Path, r.state); err != nil {
						return err
					}
				}
			}
		}
		if err := e.activate(ctx, groups); err != nil {
			return err
		}

		parentsDone, err := e.rollUpParents(ctx, fin)
		if err != nil {
			return err
		}
		next = append(next, parentsDone...)

		if err := e.rollUpWorkflows(ctx, fin); err != nil {
			return err
		}
		fin = next
	}
	return nil
}

// released is a dependent whose remaining_deps reached zero.
type released struct {
	riverjob.Leaf
	state      flowtype.NodeState
	parent     int32
	dependents []int32
	sink       bool
}

// releaseDependents decrements remaining_deps of every dependent of fin,
// once per finished dep, and decides the ones that reach zero in the same
// statement: they start (enqueued, or active for a group) when no dep failed
// or their policy is run; otherwise they are skipped or cancelled by policy.
// Rows are locked in (workflow_id, idx) order so that two transactions
// releasing overlapping dependents cannot deadlock.
func (e *engine) releaseDependents(ctx context.Context, fin []finished) ([]released, error) {
	d := deltas{}
	for _, f := range fin {
		for _, dep := range f.dependents {
			d.add(Ref{WF: f.WF, Idx: dep}, 1, f.failure)
		}
	}
	if len(d) == 0 {
		return nil, nil
	}
	wfs, idxs, ns, nfs := d.arrays()
	rows, err := e.tx.Query(ctx, sqlReleaseDependents, wfs, idxs, ns, nfs)
	if err != nil {
		return nil, fmt.Errorf("release dependents: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (released, error) {
		var r released
		err := row.Scan(append([]any{&r.state, &r.parent, &r.dependents, &r.sink}, r.Dest()...)...)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("release dependents: %w", err)
	}
	return out, nil
}

const sqlReleaseDependents = sqlLockDeltas + `, upd AS (
    UPDATE qf_node q SET
        remaining_deps = q.remaining_deps - d.n,
        failed_deps    = q.failed_deps + d.nf,
        state = CASE
            WHEN q.remaining_deps - d.n > 0 THEN q.state
            WHEN q.failed_deps + d.nf = 0 OR q.on_dep_failure = 'run'
                THEN CASE WHEN q.kind IS NULL THEN 'active' ELSE 'enqueued' END
            WHEN q.on_dep_failure = 'skip' THEN 'skipped'
            ELSE 'cancelled'
        END,
        finished_at = CASE
            WHEN q.remaining_deps - d.n = 0 AND q.failed_deps + d.nf > 0 AND q.on_dep_failure <> 'run' THEN now()
            ELSE q.finished_at
        END
    FROM locked d
    WHERE q.workflow_id = d.workflow_id AND q.idx = d.idx AND q.state = 'waiting'
    RETURNING q.workflow_id, q.idx, q.state, q.remaining_deps
)
SELECT u.state, q.parent_idx, q.dependents, q.dependents = '{}' OR q.rollup_sink, ` + riverjob.LeafColumns + `
FROM upd u JOIN qf_node q ON q.workflow_id = u.workflow_id AND q.idx = u.idx
WHERE u.remaining_deps = 0`

// activate starts groups: their members with no deps start too (leaves are
// enqueued, nested groups activated in turn). The groups themselves already
// have state active.
func (e *engine) activate(ctx context.Context, groups []Ref) error {
	for len(groups) > 0 {
		sortRefs(groups)
		wfs, idxs := make([]string, len(groups)), make([]int32, len(groups))
		for i, g := range groups {
			wfs[i], idxs[i] = g.WF, g.Idx
		}
		rows, err := e.tx.Query(ctx, sqlActivateMembers, wfs, idxs)
		if err != nil {
			return fmt.Errorf("activate groups: %w", err)
		}
		members, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (released, error) {
			var r released
			err := row.Scan(append([]any{&r.state}, r.Dest()...)...)
			return r, err
		})
		if err != nil {
			return fmt.Errorf("activate groups: %w", err)
		}
		groups = groups[:0]
		for _, m := range members {
			if m.state == flowtype.NodeActive {
				groups = append(groups, m.Ref)
			} else {
				e.ready = append(e.ready, m.Leaf)
			}
		}
	}
	return nil
}

const sqlActivateMembers = `
WITH g AS (
    SELECT * FROM unnest($1::uuid[], $2::int[]) AS g(workflow_id, idx)
)
UPDATE qf_node q SET state = CASE WHEN q.kind IS NULL THEN 'active' ELSE 'enqueued' END
FROM g
WHERE q.workflow_id = g.workflow_id AND q.parent_idx = g.idx
  AND q.remaining_deps = 0 AND q.state = 'waiting'
RETURNING q.state, ` + riverjob.LeafColumns

// finalizeSubtree gives every waiting node inside a skipped or cancelled
// group the group's state. Those nodes never ran and count for nothing: the
// group itself carries the outcome to its dependents and parent.
func (e *engine) finalizeSubtree(ctx context.Context, g Ref, path string, state flowtype.NodeState) error {
	_, err := e.tx.Exec(ctx, `
UPDATE qf_node SET state = $3, finished_at = now()
WHERE workflow_id = $1 AND path LIKE $2 AND state IN ('waiting', 'active')`,
		g.WF, LikePrefix(path)+"/%", state)
	if err != nil {
		return fmt.Errorf("%s members of group %s: %w", state, path, err)
	}
	return nil
}

// rollUpParents counts finished nodes into their parent group or expanded
// node: sinks decrement remaining_children, failures increment
// failed_children. A parent whose remaining_children reaches zero becomes
// final in the same statement (failed when any member failed or was
// cancelled) and is returned for the next round.
func (e *engine) rollUpParents(ctx context.Context, fin []finished) ([]finished, error) {
	d := containerDeltas(fin, false)
	if len(d) == 0 {
		return nil, nil
	}
	wfs, idxs, ns, nfs := d.arrays()
	rows, err := e.tx.Query(ctx, sqlRollUpParents, wfs, idxs, ns, nfs)
	if err != nil {
		return nil, fmt.Errorf("roll up groups: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanFinished)
	if err != nil {
		return nil, fmt.Errorf("roll up groups: %w", err)
	}
	return out, nil
}

const sqlRollUpParents = sqlLockDeltas + `, upd AS (
UPDATE qf_node q SET
    remaining_children = q.remaining_children - d.n,
    failed_children    = q.failed_children + d.nf,
    state = CASE
        WHEN q.remaining_children - d.n > 0 THEN q.state
        WHEN q.failed_children + d.nf > 0 THEN 'failed'
        ELSE 'completed'
    END,
    finished_at = CASE WHEN q.remaining_children - d.n = 0 THEN now() ELSE q.finished_at END,
    -- A group's output is the map of its sink members' outputs; an expanded
    -- node keeps the output its own job produced.
    output = CASE
        WHEN q.remaining_children - d.n = 0 AND q.kind IS NULL THEN (
            SELECT coalesce(jsonb_object_agg(regexp_replace(m.path, '^.*/', ''), m.output), '{}')
            FROM qf_node m
            WHERE m.workflow_id = q.workflow_id AND m.parent_idx = q.idx
              AND m.dependents = '{}' AND m.state = 'completed')
        ELSE q.output
    END
FROM locked d
WHERE q.workflow_id = d.workflow_id AND q.idx = d.idx AND q.state = 'active'
RETURNING q.workflow_id, q.idx, q.parent_idx, q.dependents, q.dependents = '{}' OR q.rollup_sink AS sink,
          q.state, q.remaining_children
)
SELECT workflow_id::text, idx, parent_idx, dependents, sink, state FROM upd WHERE remaining_children = 0`

// rollUpWorkflows does for workflows what rollUpParents does for groups:
// top-level sinks decrement remaining, failures increment failed, and a
// workflow whose remaining reaches zero gets its final status and output in
// the same statement.
func (e *engine) rollUpWorkflows(ctx context.Context, fin []finished) error {
	d := containerDeltas(fin, true)
	if len(d) == 0 {
		return nil
	}
	wfs, _, ns, nfs := d.arrays()
	rows, err := e.tx.Query(ctx, sqlRollUpWorkflows, wfs, ns, nfs)
	if err != nil {
		return fmt.Errorf("roll up workflows: %w", err)
	}
	var status flowtype.WorkflowState
	var took float64
	_, err = pgx.ForEachRow(rows, []any{&status, &took}, func() error {
		if status.IsFinal() {
			if e.finished == nil {
				e.finished = map[flowtype.WorkflowState]int{}
			}
			e.finished[status]++
			e.timings = append(e.timings, observe.Timing{Status: status, Took: SecondsDuration(took)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("roll up workflows: %w", err)
	}
	return nil
}

const sqlRollUpWorkflows = `
WITH d AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[]) AS d(id, n, nf)
), locked AS (
    SELECT w.id, d.n, d.nf FROM qf_workflow w JOIN d ON w.id = d.id
    ORDER BY w.id
    FOR UPDATE OF w
)
UPDATE qf_workflow w SET
        remaining = w.remaining - d.n,
        failed    = w.failed + d.nf,
        status = CASE
            WHEN w.remaining - d.n > 0 THEN 'running'
            WHEN w.failed + d.nf > 0 THEN 'failed'
            ELSE 'completed'
        END,
        started_at  = coalesce(w.started_at, now()),
        finished_at = CASE WHEN w.remaining - d.n = 0 THEN now() END,
        output = CASE
            WHEN w.remaining - d.n = 0 THEN (
                SELECT coalesce(jsonb_object_agg(m.path, m.output), '{}')
                FROM qf_node m
                WHERE m.workflow_id = w.id AND m.parent_idx = -1
                  AND m.dependents = '{}' AND m.state = 'completed')
            ELSE w.output
        END
    FROM locked d
    WHERE w.id = d.id AND w.status IN ('pending', 'running')
RETURNING w.status, ` + SQLWorkflowSeconds

// sqlLockDeltas starts the counter statements: d holds per-node deltas
// ($1 workflow ids, $2 node indexes, $3 finished count n, $4 failure count
// nf), and locked takes the row locks in (workflow_id, idx) order, so two
// transactions that touch overlapping rows wait for each other instead of
// deadlocking. The UPDATE that follows joins qf_node with locked alone
// (carrying n and nf), never with both d and locked: two CTE scans joined
// with a row estimate from stale statistics (a freshly filled qf_node) made
// a nested loop that took 4 s for 5 000 dependents.
const sqlLockDeltas = `
WITH d AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) AS d(workflow_id, idx, n, nf)
), locked AS (
    SELECT q.workflow_id, q.idx, d.n, d.nf
    FROM qf_node q JOIN d ON q.workflow_id = d.workflow_id AND q.idx = d.idx
    ORDER BY q.workflow_id, q.idx
    FOR UPDATE OF q
)`

// containerDeltas counts finished nodes into their containers: sinks
// decrement remaining, failures increment failed. topLevel selects the
// nodes whose container is the workflow (keyed with Idx -1); otherwise
// those whose container is a group or expanded node.
func containerDeltas(fin []finished, topLevel bool) deltas {
	d := deltas{}
	for _, f := range fin {
		if (f.parent < 0) != topLevel || (!f.sink && !f.failure) {
			continue
		}
		var n int32
		if f.sink {
			n = 1
		}
		d.add(Ref{WF: f.WF, Idx: f.parent}, n, f.failure)
	}
	return d
}

// deltas accumulates counter changes per node: how many of its deps (or
// members) finished, and how many of those failed.
type deltas map[Ref][2]int32

func (d deltas) add(k Ref, n int32, failure bool) {
	c := d[k]
	c[0] += n
	if failure {
		c[1]++
	}
	d[k] = c
}

// arrays returns the deltas as parallel arrays for sqlLockDeltas, sorted by
// node.
func (d deltas) arrays() (wfs []string, idxs, ns, nfs []int32) {
	keys := make([]Ref, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sortRefs(keys)
	wfs, idxs, ns, nfs = make([]string, len(keys)), make([]int32, len(keys)), make([]int32, len(keys)), make([]int32, len(keys))
	for i, k := range keys {
		wfs[i], idxs[i], ns[i], nfs[i] = k.WF, k.Idx, d[k][0], d[k][1]
	}
	return wfs, idxs, ns, nfs
}

// sortRefs orders refs by (workflow, index): the order every statement here
// locks rows in.
func sortRefs(refs []Ref) {
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].WF != refs[j].WF {
			return refs[i].WF < refs[j].WF
		}
		return refs[i].Idx < refs[j].Idx
	})
}

// LikePrefix escapes LIKE's wildcard characters. Node ids cannot contain
// them (dag validates ids), but a path is data, so escape anyway.
func LikePrefix(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c == '_' || c == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// SQLWorkflowSeconds, in the RETURNING list of a statement that may finish
// a workflow (aliased w), is how long it took in seconds: from started_at,
// or from created_at when the same statement set started_at (a workflow
// that never started: now() is the transaction's start, so started_at =
// finished_at), to finished_at; 0 while it is not finished. It costs no
// extra query.
const SQLWorkflowSeconds = `coalesce(extract(epoch FROM w.finished_at -
    CASE WHEN w.started_at < w.finished_at THEN w.started_at ELSE w.created_at END)::float8, 0)`

// SecondsDuration converts seconds from SQL to a duration, never negative.
func SecondsDuration(s float64) time.Duration {
	return time.Duration(max(s, 0) * float64(time.Second))
}
