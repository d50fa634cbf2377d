package release

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// Slots counts concurrency slots given back, by key.
type Slots map[string]int32

// StartTx gives leaves that became ready in tx (state enqueued) their River
// jobs, through rc, within their concurrency limits, and hands the slots in
// freed (given back by nodes that left state enqueued in tx) to the nodes
// waiting for them. It is the only way a leaf gets a job: submit, settle,
// expansion, retry and cancel all end here. It returns how many jobs it
// inserted. A leaf of a paused workflow or kind gets no job: it becomes
// paused (keeping a slot it took) until ResumeTx.
//
// Leaves without a concurrency key are inserted at once, with no other
// statement. A keyed leaf first joins its key's queue (state throttled),
// behind the leaves already waiting; then, per key, the key's row in
// qf_concurrency is locked, held is reduced by the freed slots, and the
// first lim - held waiters (priority, then the order they became ready)
// become enqueued and get their jobs. docs/FLOWCONTROL.md says why held
// then always equals the key's enqueued nodes and never exceeds lim.
func StartTx(ctx context.Context, tx pgx.Tx, rc *river.Client[pgx.Tx], leaves []riverjob.Leaf, freed Slots) (int, error) {
	keyedAny := false
	for i := range leaves {
		if leaves[i].ConcKey() != nil {
			keyedAny = true
			break
		}
	}
	if !keyedAny && len(freed) == 0 {
		// No concurrency limit involved: no copy of the leaves (a release
		// of 100 000 leaves would otherwise duplicate them).
		return insertUnlessPausedTx(ctx, tx, rc, leaves)
	}
	var now []riverjob.Leaf
	keyed := map[string][]riverjob.Leaf{}
	for _, l := range leaves {
		k := l.ConcKey()
		if k == nil {
			now = append(now, l)
			continue
		}
		keyed[*k] = append(keyed[*k], l)
	}
	keys := make([]string, 0, len(keyed)+len(freed))
	for k := range keyed {
		keys = append(keys, k)
	}
	for k := range freed {
		if _, ok := keyed[k]; !ok {
			keys = append(keys, k)
		}
	}
	// One order for every transaction, so two of them lock key rows
	// without deadlocking each other.
	sort.Strings(keys)
	for _, k := range keys {
		promoted, err := admitTx(ctx, tx, k, keyed[k], freed[k])
		if err != nil {
			return 0, fmt.Errorf("concurrency key %q: %w", k, err)
		}
		now = append(now, promoted...)
	}
	return insertUnlessPausedTx(ctx, tx, rc, now)
}

// insertUnlessPausedTx inserts the jobs of the leaves whose workflow and
// kind are not paused.
func insertUnlessPausedTx(ctx context.Context, tx pgx.Tx, rc *river.Client[pgx.Tx], leaves []riverjob.Leaf) (int, error) {
	leaves, err := holdPausedTx(ctx, tx, leaves)
	if err != nil {
		return 0, err
	}
	if err := riverjob.InsertTx(ctx, rc, tx, leaves); err != nil {
		return 0, err
	}
	return len(leaves), nil
}

// admitTx gives back freed slots of key, lets its new ready leaves take
// free slots directly when nobody waits for the key (the rest queue up
// behind the waiters), promotes waiters into the slots left, and returns
// the leaves that now hold a slot (state enqueued).
func admitTx(ctx context.Context, tx pgx.Tx, key string, ready []riverjob.Leaf, freed int32) ([]riverjob.Leaf, error) {
	var lim *int32
	if len(ready) > 0 {
		lim = ready[len(ready)-1].Ctl.ConcLimit
	}
	var (
		limit, held int32
		waiting     bool
	)
	if err := tx.QueryRow(ctx, sqlLockKey, key, lim, freed).Scan(&limit, &held, &waiting); err != nil {
		return nil, fmt.Errorf("lock slots: %w", err)
	}
	room := limit - held
	var out []riverjob.Leaf
	if !waiting && room > 0 && len(ready) > 0 {
		// Nobody is ahead of these leaves: the first room of them, by
		// priority, keep the state enqueued they have and take a slot.
		sort.SliceStable(ready, func(i, j int) bool { return prio(ready[i]) < prio(ready[j]) })
		n := min(int(room), len(ready))
		out, ready = append(out, ready[:n]...), ready[n:]
		room -= int32(n)
	}
	if len(ready) > 0 {
		wfs, idxs, prios := make([]string, len(ready)), make([]int32, len(ready)), make([]int16, len(ready))
		for i, l := range ready {
			wfs[i], idxs[i], prios[i] = l.WF, l.Idx, prio(l)
		}
		if _, err := tx.Exec(ctx, sqlQueueThrottled, key, prios, wfs, idxs); err != nil {
			return nil, fmt.Errorf("queue %d ready nodes: %w", len(ready), err)
		}
		waiting = true
	}
	for room > 0 && waiting {
		wfs, idxs, err := dequeueTx(ctx, tx, key, room)
		if err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, sqlPromote, wfs, idxs)
		if err != nil {
			return nil, fmt.Errorf("promote waiters: %w", err)
		}
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (riverjob.Leaf, error) {
			var l riverjob.Leaf
			err := row.Scan(l.Dest()...)
			return l, err
		})
		if err != nil {
			return nil, fmt.Errorf("promote waiters: %w", err)
		}
		out = append(out, got...)
		room -= int32(len(got))
		// A queue row whose node is no longer throttled is dropped without
		// taking a slot (cancel and retry remove their rows, so this is
		// only a safety net); the loop then looks further down the queue.
		if int32(len(wfs)) < room+int32(len(got)) || len(wfs) == len(got) {
			break
		}
	}
	if len(out) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE qf_concurrency SET held = held + $2 WHERE key = $1`, key, len(out)); err != nil {
			return nil, fmt.Errorf("take %d slots: %w", len(out), err)
		}
	}
	return out, nil
}

// dequeueTx removes the first n waiters of key from the queue, in the
// order they leave it, and returns their nodes.
func dequeueTx(ctx context.Context, tx pgx.Tx, key string, n int32) ([]string, []int32, error) {
	rows, err := tx.Query(ctx, sqlDequeue, key, n)
	if err != nil {
		return nil, nil, fmt.Errorf("dequeue waiters: %w", err)
	}
	var (
		wfs  []string
		idxs []int32
		wf   string
		idx  int32
	)
	_, err = pgx.ForEachRow(rows, []any{&wf, &idx}, func() error {
		wfs, idxs = append(wfs, wf), append(idxs, idx)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dequeue waiters: %w", err)
	}
	return wfs, idxs, nil
}

// sqlQueueThrottled puts ready leaves ($3, $4, priorities $2) at the end of
// key $1's queue, in the order given, and marks them throttled (their rows
// are already locked by the statement that made them ready).
const sqlQueueThrottled = `
WITH t AS (
    INSERT INTO qf_throttled (key, priority, workflow_id, idx)
    SELECT $1, r.priority, r.workflow_id, r.idx
    FROM unnest($2::smallint[], $3::uuid[], $4::int[]) WITH ORDINALITY AS r(priority, workflow_id, idx, ord)
    ORDER BY r.ord
    RETURNING workflow_id, idx
)
UPDATE qf_node q SET state = 'throttled'
FROM t WHERE q.workflow_id = t.workflow_id AND q.idx = t.idx AND q.state = 'enqueued'`

// sqlLockKey locks key $1's slot row (creating it with limit $2), takes
// the newest limit when $2 is set, gives back $3 slots, and says whether
// leaves wait for the key.
const sqlLockKey = `
INSERT INTO qf_concurrency AS c (key, lim, held) VALUES ($1, coalesce($2, 1), 0)
ON CONFLICT (key) DO UPDATE SET lim = coalesce($2, c.lim), held = c.held - $3
RETURNING lim, held, EXISTS (SELECT 1 FROM qf_throttled WHERE key = $1)`

// prio is a leaf's River priority (the queue's first sort key).
func prio(l riverjob.Leaf) int16 {
	if l.Priority == nil {
		return 0
	}
	return *l.Priority
}

// sqlDequeue removes the first $2 waiters of key $1 whose workflow and kind
// are not paused (paused ones keep their place): an index range scan of the
// primary key, (key, priority, seq).
const sqlDequeue = `
DELETE FROM qf_throttled t
USING (SELECT w.key, w.priority, w.seq FROM qf_throttled w
       WHERE w.key = $1 AND NOT EXISTS (
           SELECT 1 FROM qf_pause p
           WHERE (p.scope = 'workflow' AND p.target = w.workflow_id::text)
              OR (p.scope = 'kind' AND p.target = (
                     SELECT n.kind FROM qf_node n WHERE n.workflow_id = w.workflow_id AND n.idx = w.idx)))
       ORDER BY w.priority, w.seq LIMIT $2) s
WHERE t.key = s.key AND t.priority = s.priority AND t.seq = s.seq
RETURNING t.workflow_id::text, t.idx`

// sqlPromote gives dequeued nodes that are still throttled their slot:
// they become enqueued, and their leaf columns are returned for the insert.
const sqlPromote = `
UPDATE qf_node q SET state = 'enqueued'
FROM unnest($1::uuid[], $2::int[]) AS w(workflow_id, idx)
WHERE q.workflow_id = w.workflow_id AND q.idx = w.idx AND q.state = 'throttled'
RETURNING ` + riverjob.LeafColumns
