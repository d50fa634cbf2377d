package flow_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// jobSpan is one River job's run, from River's own timestamps.
type jobSpan struct {
	path       string
	start, end time.Time
	priority   int
}

// keyedSpans returns the attempted_at/finalized_at spans of the finished
// jobs of kind in the given workflows, by start.
func keyedSpans(t testing.TB, pool *pgxpool.Pool, kind string, wfs []string) []jobSpan {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT metadata->>'qf_path', attempted_at, finalized_at, priority FROM river_job
WHERE kind = $1 AND metadata->>'qf_wf' = ANY($2::text[]) AND finalized_at IS NOT NULL
ORDER BY attempted_at, id`, kind, wfs)
	require.NoError(t, err)
	defer rows.Close()
	var out []jobSpan
	for rows.Next() {
		var s jobSpan
		require.NoError(t, rows.Scan(&s.path, &s.start, &s.end, &s.priority))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// maxOverlap is the largest number of spans running at one instant (a span
// ending at t does not overlap one starting at t).
func maxOverlap(spans []jobSpan) int {
	type ev struct {
		at    time.Time
		delta int
	}
	var evs []ev
	for _, s := range spans {
		evs = append(evs, ev{s.start, 1}, ev{s.end, -1})
	}
	sort.Slice(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return evs[i].delta < evs[j].delta
	})
	cur, best := 0, 0
	for _, e := range evs {
		cur += e.delta
		best = max(best, cur)
	}
	return best
}

// wideKeyedSpec is a workflow of n sleep nodes sharing concurrency key key
// with limit lim.
func wideKeyedSpec(name, key string, lim, n, ms int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ninput: {shared: %s}\ndefaults:\n  concurrency: {key: \"slots:{{input.shared}}\", limit: %d}\nnodes:\n", name, key, lim)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {id: s%d, kind: sleep, args: {ms: %d}}\n", i, ms)
	}
	return b.String()
}

// TestConcurrencyLimitFleetWide runs 300 sleep nodes of three workflows
// that share one key with limit 4 on three River clients (three workers of
// one fleet): River's own timestamps never show more than 4 of them running
// at once, every node completes with exactly one job, and no slot is left
// held or waiter left queued at the end.
func TestConcurrencyLimitFleetWide(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 3 {
		b.startWorker(t, 20)
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, b.submitYAML(t, wideKeyedSpec(fmt.Sprintf("wide%d", i), "embed", 4, 100, 15)))
	}
	for _, id := range ids {
		st := b.waitFinished(t, id, 2*time.Minute)
		require.Equal(t, "completed", string(st.Status))
	}
	spans := keyedSpans(t, b.db.Pool, "sleep", ids)
	require.Len(t, spans, 300, "one job per node")
	require.LessOrEqual(t, maxOverlap(spans), 4)
	require.GreaterOrEqual(t, maxOverlap(spans), 2, "the limit, not a single worker, bounds the run")

	var held, queued int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(),
		`SELECT (SELECT held FROM qf_concurrency WHERE key = 'slots:embed'), (SELECT count(*) FROM qf_throttled)`).Scan(&held, &queued))
	require.Zero(t, held, "every slot is given back")
	require.Zero(t, queued)
}

// TestConcurrencyFairness holds the only slot of a key, queues nodes of
// several priorities behind it, and checks that they start by priority,
// then in the order they became ready; and that a throttled node shows as
// throttled in the status.
func TestConcurrencyFairness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	holder := b.submitYAML(t, `
name: holder
nodes:
  - {id: h, kind: hold, args: {key: fair}, concurrency: {key: fair, limit: 1}}
`)
	b.waitNodeState(t, holder, "h", "running")
	queued := b.submitYAML(t, `
name: queued
defaults:
  concurrency: {key: fair, limit: 1}
nodes:
  - {id: b1, kind: noop, priority: bulk}
  - {id: n1, kind: noop}
  - {id: h1, kind: noop, priority: high}
  - {id: n2, kind: noop}
  - {id: h2, kind: noop, priority: high}
`)
	st, err := b.client.Status(context.Background(), queued)
	require.NoError(t, err)
	for _, n := range st.Nodes {
		require.Equal(t, "throttled", string(n.State), n.ID)
		require.Nil(t, n.JobID, "a throttled node has no job")
	}
	b.gates.open("fair")
	require.Equal(t, "completed", string(b.waitFinished(t, queued, time.Minute).Status))
	var order []string
	for _, s := range keyedSpans(t, b.db.Pool, "noop", []string{queued}) {
		order = append(order, s.path)
	}
	require.Equal(t, []string{"h1", "h2", "n1", "n2", "b1"}, order)
}

// TestCancelGivesSlotsBack cancels a workflow that holds every slot of a
// key and has waiters: another workflow's waiters start at once.
func TestCancelGivesSlotsBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	first := b.submitYAML(t, `
name: first
defaults:
  concurrency: {key: c, limit: 2}
nodes:
  - {id: a, kind: hold, args: {key: never}}
  - {id: b, kind: hold, args: {key: never}}
  - {id: c, kind: hold, args: {key: never}}
`)
	b.waitNodeState(t, first, "a", "running")
	b.waitNodeState(t, first, "b", "running")
	second := b.submitYAML(t, `
name: second
nodes:
  - {id: x, kind: noop, concurrency: {key: c, limit: 2}}
`)
	_, err := b.client.Cancel(context.Background(), first)
	require.NoError(t, err)
	require.Equal(t, "completed", string(b.waitFinished(t, second, time.Minute).Status))
	var queued int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM qf_throttled`).Scan(&queued))
	require.Zero(t, queued)
}

// waitNodeState polls until the node has the state.
func (b *testBundle) waitNodeState(t *testing.T, id, node, state string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := b.client.Status(context.Background(), id)
		require.NoError(t, err)
		if nodeStates(st)[node] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s of %s not %s after a minute: %v", node, id, state, nodeStates(st))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var _ = flow.ErrNotFound

// TestRateLimitFleetWide starts 200 nodes limited to 50 starts per second
// on three River clients: from River's attempted_at, the first and last
// start are at least 3.9 s apart (a bucket that starts full would need only
// 3 s) and no one-second window holds more than 50 starts.
func TestRateLimitFleetWide(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 3 {
		b.startWorker(t, 30)
	}
	var spec strings.Builder
	spec.WriteString("name: rated\ndefaults:\n  rate: {key: embedding-api, limit: 50, per: 1s}\nnodes:\n")
	for i := range 200 {
		fmt.Fprintf(&spec, "  - {id: n%d, kind: noop}\n", i)
	}
	id := b.submitYAML(t, spec.String())
	require.Equal(t, "completed", string(b.waitFinished(t, id, 2*time.Minute).Status))
	spans := keyedSpans(t, b.db.Pool, "noop", []string{id})
	require.Len(t, spans, 200)
	first, last := spans[0].start, spans[len(spans)-1].start
	most := 0
	for i := range spans {
		in := 0
		for j := i; j < len(spans) && spans[j].start.Sub(spans[i].start) < time.Second; j++ {
			in++
		}
		most = max(most, in)
	}
	t.Logf("200 starts in %s, at most %d in one second", last.Sub(first), most)
	require.GreaterOrEqual(t, last.Sub(first), 3900*time.Millisecond)
	require.LessOrEqual(t, most, 50, "starts in one second")
	st, err := b.client.Status(context.Background(), id)
	require.NoError(t, err)
	for _, n := range st.Nodes {
		require.Equal(t, 1, n.Attempts, "a refused start spends no attempt: %s", n.ID)
	}
}
