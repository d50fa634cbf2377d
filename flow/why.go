package flow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// Why reasons: why a node that is not running is not running.
const (
	// WhyDeps: deps not done yet (or its group has not started).
	WhyDeps = "deps"
	// WhyThrottled: its concurrency key has no free slot.
	WhyThrottled = "throttled"
	// WhyRateLimited: its rate key's next start is later.
	WhyRateLimited = "rate_limited"
	// WhyPaused: its workflow, kind or queue is paused.
	WhyPaused = "paused"
	// WhyScheduled: its job is scheduled for later (delay, not_before, a
	// retry's backoff).
	WhyScheduled = "scheduled"
	// WhyNoWorker: no live worker serves its queue or registers its kind.
	WhyNoWorker = "no_worker"
	// WhyQueued: its job is available and live workers serve it; it waits
	// for a free worker slot.
	WhyQueued = "queued"
)

// WhyReport is Why's answer, in the JSON shape of `enqueue why -o json`.
type WhyReport struct {
	ID    string    `json:"id"`
	Nodes []WhyNode `json:"nodes"`
}

// WhyNode is one node that is neither running nor final.
type WhyNode struct {
	ID     string             `json:"id"`
	State  flowtype.NodeState `json:"state"`
	Reason string             `json:"reason"`
	Detail string             `json:"detail"`
}

// whyNode is a node row as Why reads it.
type whyNode struct {
	idx, parent, run int32
	path             string
	kind             *string
	state            flowtype.NodeState
	deps             []int32
	concKey          *string
	concLimit        *int32
	rateKey          *string
}

// Why explains, for every node of the workflow that is neither running nor
// final (or only the node at path and its subtree when path is not ""),
// what it waits for: its deps (named), a concurrency slot (the key and who
// holds its slots), its rate key's next start, a pause (of what), a
// schedule (until when), or a worker (no live worker serves its queue or
// registers its kind). It reads one repeatable-read snapshot. Returns
// ErrNotFound for an unknown workflow or path.
func (c *Client) Why(ctx context.Context, id, path string) (*WhyReport, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	tx, err := c.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("why %s: %w", id, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	rep, err := c.whyTx(ctx, tx, id, path)
	if err != nil {
		return nil, fmt.Errorf("why %s: %w", id, err)
	}
	return rep, nil
}

func (c *Client) whyTx(ctx context.Context, tx pgx.Tx, id, path string) (*WhyReport, error) {
	var wfPaused bool
	err := tx.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM qf_pause p WHERE p.scope = 'workflow' AND p.target = w.id::text)
FROM qf_workflow w WHERE w.id = $1`, id).Scan(&wfPaused)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `
SELECT idx, parent_idx, run, path, kind, state, deps, conc_key, conc_limit, rate_key
FROM qf_node WHERE workflow_id = $1 ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	var nodes []whyNode
	byIdx := map[int32]int{}
	for rows.Next() {
		var n whyNode
		if err := rows.Scan(&n.idx, &n.parent, &n.run, &n.path, &n.kind, &n.state, &n.deps, &n.concKey, &n.concLimit, &n.rateKey); err != nil {
			rows.Close()
			return nil, fmt.Errorf("nodes: %w", err)
		}
		byIdx[n.idx] = len(nodes)
		nodes = append(nodes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	if path != "" && !slices.ContainsFunc(nodes, func(n whyNode) bool { return n.path == path }) {
		return nil, fmt.Errorf("node %q: %w", path, ErrNotFound)
	}
	jobs, err := riverjob.WaitingJobsTx(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	pausedQueues, err := riverjob.PausedQueuesTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	pausedKinds, err := c.pausedKindsTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	w := &why{tx: tx, wfPaused: wfPaused, pausedQueues: pausedQueues, pausedKinds: pausedKinds, holders: map[string]string{}}

	rep := &WhyReport{ID: id, Nodes: []WhyNode{}}
	for _, n := range nodes {
		if path != "" && n.path != path && !strings.HasPrefix(n.path, path+"/") {
			continue
		}
		wn := WhyNode{ID: n.path, State: n.state}
		switch n.state {
		case flowtype.NodeWaiting:
			wn.Reason, wn.Detail = WhyDeps, waitingDetail(n, nodes, byIdx)
		case flowtype.NodeThrottled:
			wn.Reason = WhyThrottled
			if wn.Detail, err = w.throttled(ctx, n); err != nil {
				return nil, err
			}
		case flowtype.NodePaused:
			wn.Reason, wn.Detail = WhyPaused, w.pausedDetail(n)
		case flowtype.NodeEnqueued:
			j, ok := jobs[riverjob.RunKey{Idx: n.idx, Run: n.run}]
			if !ok {
				continue // running, or just finishing
			}
			wn.State = riverjob.NodeState(j.State)
			if j.State == rivertype.JobStateScheduled || j.State == rivertype.JobStateRetryable {
				wn.State = flowtype.NodeScheduled
			}
			if wn.Reason, wn.Detail, err = w.job(ctx, n, j); err != nil {
				return nil, err
			}
		default:
			continue // running (active groups), or final
		}
		rep.Nodes = append(rep.Nodes, wn)
	}
	return rep, nil
}

func (c *Client) pausedKindsTx(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT target FROM qf_pause WHERE scope = $1 ORDER BY target`, release.ScopeKind)
	if err != nil {
		return nil, fmt.Errorf("paused kinds: %w", err)
	}
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("paused kinds: %w", err)
	}
	return kinds, nil
}

// waitingDetail names the deps a waiting node waits for, or the enclosing
// group that has not started.
func waitingDetail(n whyNode, nodes []whyNode, byIdx map[int32]int) string {
	var open []string
	for _, d := range n.deps {
		if dep := nodes[byIdx[d]]; !dep.state.IsFinal() {
			open = append(open, fmt.Sprintf("%s (%s)", lastSegment(dep.path), dep.state))
		}
	}
	if len(open) > 0 {
		return "waiting for " + strings.Join(open, ", ")
	}
	if n.parent >= 0 {
		if g := nodes[byIdx[n.parent]]; g.state == flowtype.NodeWaiting {
			return fmt.Sprintf("its group %s has not started (it waits for its own deps)", g.path)
		}
	}
	return "its deps are finishing"
}

// why holds what Why reads once per report.
type why struct {
	tx           pgx.Tx
	wfPaused     bool
	pausedQueues []string
	pausedKinds  []string
	holders      map[string]string // concurrency key -> detail
	workersRead  bool
	workers      []liveWorker
}

type liveWorker struct {
	queues, kinds []string
}

// throttled says which key a throttled node waits for and who holds its
// slots.
func (w *why) throttled(ctx context.Context, n whyNode) (string, error) {
	if n.concKey == nil {
		return "waiting for a concurrency slot", nil
	}
	key := *n.concKey
	if d, ok := w.holders[key]; ok {
		return d, nil
	}
	var lim, held, queued int
	if err := w.tx.QueryRow(ctx, `
SELECT coalesce((SELECT lim FROM qf_concurrency WHERE key = $1), 0),
       coalesce((SELECT held FROM qf_concurrency WHERE key = $1), 0),
       (SELECT count(*) FROM qf_throttled WHERE key = $1)`, key).Scan(&lim, &held, &queued); err != nil {
		return "", fmt.Errorf("concurrency key %q: %w", key, err)
	}
	rows, err := w.tx.Query(ctx, `
SELECT q.workflow_id::text || ':' || q.path FROM qf_node q
WHERE q.conc_key = $1 AND q.state IN ('enqueued', 'paused')
ORDER BY q.workflow_id, q.idx LIMIT 5`, key)
	if err != nil {
		return "", fmt.Errorf("holders of %q: %w", key, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("holders of %q: %w", key, err)
	}
	d := fmt.Sprintf("concurrency key %q: %d of %d slots held", key, held, lim)
	if len(names) > 0 {
		d += " by " + strings.Join(names, ", ")
		if held > len(names) {
			d += fmt.Sprintf(" and %d more", held-len(names))
		}
	}
	d += fmt.Sprintf("; %d waiting", queued)
	w.holders[key] = d
	return d, nil
}

// pausedDetail says what pause covers a paused node.
func (w *why) pausedDetail(n whyNode) string {
	var what []string
	if w.wfPaused {
		what = append(what, "workflow is paused")
	}
	if n.kind != nil && slices.Contains(w.pausedKinds, *n.kind) {
		what = append(what, fmt.Sprintf("kind %q is paused", *n.kind))
	}
	if len(what) == 0 {
		return "paused; resuming"
	}
	return strings.Join(what, "; ")
}

// job explains a node whose job exists and is not running.
func (w *why) job(ctx context.Context, n whyNode, j riverjob.WaitingJob) (string, string, error) {
	now := time.Now()
	switch {
	case j.Held:
		return WhyPaused, w.pausedDetail(n), nil
	case slices.Contains(w.pausedQueues, j.Queue) || slices.Contains(w.pausedQueues, "*"):
		return WhyPaused, fmt.Sprintf("queue %q is paused", j.Queue), nil
	case j.Reserved != nil && n.rateKey != nil:
		return WhyRateLimited, fmt.Sprintf("rate key %q: next start at %s", *n.rateKey, j.Reserved.UTC().Format(time.RFC3339Nano)), nil
	case j.ScheduledAt.After(now) && j.State == rivertype.JobStateRetryable:
		return WhyScheduled, fmt.Sprintf("retry after attempt %d at %s", j.Attempt, j.ScheduledAt.UTC().Format(time.RFC3339Nano)), nil
	case j.ScheduledAt.After(now):
		return WhyScheduled, "scheduled for " + j.ScheduledAt.UTC().Format(time.RFC3339Nano), nil
	}
	if !w.workersRead {
		rows, err := w.tx.Query(ctx, `
SELECT queues, kinds FROM qf_worker
WHERE dead_at IS NULL AND heartbeat_at > now() - dead_after_ms * interval '1 millisecond'`)
		if err != nil {
			return "", "", fmt.Errorf("live workers: %w", err)
		}
		var lw liveWorker
		if _, err := pgx.ForEachRow(rows, []any{&lw.queues, &lw.kinds}, func() error {
			w.workers = append(w.workers, lw)
			return nil
		}); err != nil {
			return "", "", fmt.Errorf("live workers: %w", err)
		}
		w.workersRead = true
	}
	queueServed, kindServed := false, false
	for _, lw := range w.workers {
		if slices.Contains(lw.queues, j.Queue) {
			queueServed = true
			if len(lw.kinds) == 0 || slices.Contains(lw.kinds, j.Kind) {
				kindServed = true
			}
		}
	}
	switch {
	case !queueServed:
		return WhyNoWorker, fmt.Sprintf("no live worker serves queue %q", j.Queue), nil
	case !kindServed:
		return WhyNoWorker, fmt.Sprintf("no live worker on queue %q registers kind %q", j.Queue, j.Kind), nil
	}
	return WhyQueued, fmt.Sprintf("available on queue %q since %s; waiting for a free worker", j.Queue, j.ScheduledAt.UTC().Format(time.RFC3339Nano)), nil
}
