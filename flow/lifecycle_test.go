package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

func TestCancel(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: to-cancel
nodes:
  - {id: slow, kind: sleep, args: {ms: 60000}}
  - {id: queued, kind: noop, queue: nobody-works-this}
  - {id: after, kind: echo, deps: [slow]}
`)
	// Wait until slow runs.
	deadline := time.Now().Add(waitLong)
	for {
		st, err := b.client.Status(ctx, id)
		require.NoError(t, err)
		if nodeStates(st)["slow"] == "running" {
			require.EqualValues(t, "running", st.Status)
			break
		}
		require.True(t, time.Now().Before(deadline), "slow never started")
		time.Sleep(20 * time.Millisecond)
	}

	res, err := b.client.Cancel(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 3, res.Nodes)
	require.Equal(t, 2, res.Jobs)

	st := b.waitFinished(t, id, waitLong)
	require.EqualValues(t, "cancelled", st.Status)
	require.Equal(t, map[string]string{"slow": "cancelled", "queued": "cancelled", "after": "cancelled"}, nodeStates(st))

	// The running job was asked to stop and River records it cancelled;
	// the queued one was cancelled at once. after never got a job.
	deadline = time.Now().Add(waitLong)
	for {
		var live, total int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE state <> 'cancelled'), count(*) FROM river_job WHERE metadata ? 'qf_wf'`).Scan(&live, &total))
		require.Equal(t, 2, total)
		if live == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "jobs not cancelled")
		time.Sleep(20 * time.Millisecond)
	}

	_, err = b.client.Cancel(ctx, id)
	require.ErrorIs(t, err, flow.ErrAlreadyFinished)
	_, err = b.client.Cancel(ctx, "7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f")
	require.ErrorIs(t, err, flow.ErrNotFound)
	_, err = b.client.Cancel(ctx, "not-a-uuid")
	require.ErrorIs(t, err, flow.ErrInvalidID)
}

func TestRetryModes(t *testing.T) {
	t.Parallel()

	const spec = `
name: retry
nodes:
  - {id: a, kind: echo}
  - {id: bad, kind: fail, args: {times: 2}, max_attempts: 2, deps: [a]}
  - {id: r, kind: echo, deps: [bad], on_dep_failure: run}
  - {id: c, kind: echo, deps: [bad]}
`
	tests := []struct {
		mode     flow.RetryMode
		sameJobs []string // nodes whose job (and result) is kept
		newJobs  []string // nodes that ran again
	}{
		{mode: flow.RetryFailedOnly, sameJobs: []string{"a", "r"}, newJobs: []string{"bad", "c"}},
		{mode: flow.RetryFailedAndDownstream, sameJobs: []string{"a"}, newJobs: []string{"bad", "c", "r"}},
		{mode: flow.RetryAll, newJobs: []string{"a", "bad", "c", "r"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			b := setup(t)
			b.startWorker(t, 10)
			id := b.submitYAML(t, spec)
			first := b.waitFinished(t, id, waitLong)
			require.EqualValues(t, "failed", first.Status)
			require.Equal(t, map[string]string{"a": "completed", "bad": "failed", "r": "completed", "c": "cancelled"}, nodeStates(first))

			_, err := b.client.Retry(ctx, id, tt.mode)
			require.NoError(t, err)
			second := b.waitFinished(t, id, waitLong)
			require.EqualValues(t, "completed", second.Status, "%+v", nodeStates(second))
			for _, n := range second.Nodes {
				require.EqualValues(t, "completed", n.State, n.ID)
			}
			// Attempts carry on: bad failed twice, then its third attempt
			// (the fail kind counts node attempts) succeeded.
			require.Equal(t, 3, nodeByID(t, second, "bad").Attempts)
			for _, path := range tt.sameJobs {
				require.Equal(t, *nodeByID(t, first, path).JobID, *nodeByID(t, second, path).JobID, path)
			}
			for _, path := range tt.newJobs {
				before := nodeByID(t, first, path).JobID
				after := nodeByID(t, second, path).JobID
				require.NotNil(t, after, path)
				if before != nil {
					require.NotEqual(t, *before, *after, path)
				}
			}

			_, err = b.client.Retry(ctx, id, tt.mode)
			require.ErrorIs(t, err, flow.ErrNotRetryable)
		})
	}
}

func TestRetryRefusesActiveWorkflow(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t) // no workers: the workflow stays pending
	id := b.submitYAML(t, "name: idle\nnodes: [{id: a, kind: noop}]\n")
	before := pgtest.Counts(t, b.db.Pool)
	_, err := b.client.Retry(ctx, id, flow.RetryAll)
	require.ErrorIs(t, err, flow.ErrStillActive)
	_, err = b.client.Retry(ctx, id, "sideways")
	require.ErrorIs(t, err, flow.ErrInvalidRetryMode)
	require.Equal(t, before, pgtest.Counts(t, b.db.Pool))
	st, err := b.client.Status(ctx, id)
	require.NoError(t, err)
	require.EqualValues(t, "pending", st.Status)
	require.EqualValues(t, "available", st.Nodes[0].State)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	parse := func(s string) *dag.Spec {
		spec, err := dag.ParseBytes([]byte(s))
		require.NoError(t, err)
		return spec
	}
	spec := parse("name: keyed\nkey: nightly-2026-11-26\nnodes: [{id: a, kind: noop}, {id: b, kind: noop, deps: [a]}]\n")

	// Concurrent submits of the same spec: one creates, all get its id.
	const n = 8
	results := make([]*flow.SubmitResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = b.client.Submit(ctx, spec, nil)
		}(i)
	}
	wg.Wait()
	created := 0
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i])
		require.Equal(t, results[0].ID, results[i].ID)
		if !results[i].Existing {
			created++
		}
	}
	require.Equal(t, 1, created)
	counts := pgtest.Counts(t, b.db.Pool)
	require.Equal(t, 1, counts["qf_workflow"])
	require.Equal(t, 2, counts["qf_node"])
	require.Equal(t, 1, counts["river_job"])

	// YAML or JSON, key order: the same spec.
	again, err := b.client.Submit(ctx, parse(`{"nodes":[{"kind":"noop","id":"a"},{"deps":["a"],"id":"b","kind":"noop"}],"key":"nightly-2026-11-26","name":"keyed"}`), nil)
	require.NoError(t, err)
	require.True(t, again.Existing)
	require.Equal(t, results[0].ID, again.ID)

	// A different spec under the same key is refused and names the holder.
	_, err = b.client.Submit(ctx, parse("name: keyed\nkey: nightly-2026-11-26\nnodes: [{id: a, kind: noop}]\n"), nil)
	require.ErrorIs(t, err, flow.ErrKeyConflict)
	require.Contains(t, err.Error(), results[0].ID)
	require.Equal(t, counts, pgtest.Counts(t, b.db.Pool))
}

func TestStatusAfterJobRowsDeleted(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: retention
nodes:
  - {id: a, kind: echo, args: {v: 1}}
  - {id: flaky, kind: fail, args: {times: 1}, max_attempts: 3, deps: [a]}
  - {id: b, kind: echo, deps: [flaky]}
`)
	before := b.waitFinished(t, id, waitLong)
	require.EqualValues(t, "completed", before.Status)

	// What River's job cleaner does once retention passes.
	_, err := b.db.Pool.Exec(ctx, `DELETE FROM river_job`)
	require.NoError(t, err)

	after, err := b.client.Status(ctx, id)
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Equal(t, 2, nodeByID(t, after, "flaky").Attempts)
	var out struct {
		Args map[string]int `json:"args"`
	}
	require.NoError(t, json.Unmarshal(nodeByID(t, after, "a").Output, &out))
	require.Equal(t, 1, out.Args["v"])
	require.NotNil(t, nodeByID(t, after, "b").JobID)
}

func TestMalformedSpecWritesNothing(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	// A workflow already there: its key must stay held, its rows unchanged.
	b.submitYAML(t, "name: existing\nkey: taken\nnodes: [{id: a, kind: noop}]\n")
	before := pgtest.Counts(t, b.db.Pool)

	tests := []struct {
		name string
		spec string
		want error
	}{
		{"cycle", "name: c\nnodes: [{id: a, kind: noop, deps: [b]}, {id: b, kind: noop, deps: [a]}]\n", dag.ErrCycle},
		{"unknown dep", "name: c\nnodes: [{id: a, kind: noop, deps: [zz]}]\n", dag.ErrUnknownDep},
		{"unknown kind", "name: c\nnodes: [{id: a, kind: never-registered}]\n", dag.ErrUnknownKind},
		{"duplicate id", "name: c\nnodes: [{id: a, kind: noop}, {id: a, kind: noop}]\n", dag.ErrDuplicateID},
		{"bad priority", "name: c\nnodes: [{id: a, kind: noop, priority: urgent}]\n", dag.ErrInvalidPriority},
		{"key held by other spec", "name: other\nkey: taken\nnodes: [{id: a, kind: noop}]\n", flow.ErrKeyConflict},
	}
	submit := func(name string, spec *dag.Spec, want error) {
		_, err := b.client.Submit(ctx, spec, nil)
		require.Error(t, err, name)
		require.True(t, errors.Is(err, want), "%s: got %v", name, err)
		require.Equal(t, before, pgtest.Counts(t, b.db.Pool), name)
	}
	for _, tt := range tests {
		spec, err := dag.ParseBytes([]byte(tt.spec))
		require.NoError(t, err, tt.name)
		submit(tt.name, spec, tt.want)
	}

	// Built in Go, past the parser: the limits still hold at submit.
	big := &dag.Spec{Name: "big", Nodes: []dag.Node{
		{ID: "ok", Kind: "noop"},
		{ID: "huge", Kind: "noop", Args: json.RawMessage(`{"blob":"` + strings.Repeat("x", dag.MaxArgsBytes) + `"}`)},
	}}
	submit("args over 1 MiB", big, dag.ErrArgsTooLarge)

	deep := dag.Node{ID: "leaf", Kind: "noop"}
	for i := 0; i < dag.MaxDepth; i++ {
		deep = dag.Node{ID: fmt.Sprintf("g%d", i), Nodes: []dag.Node{deep}}
	}
	submit("33 levels", &dag.Spec{Name: "deep", Nodes: []dag.Node{deep}}, dag.ErrTooDeep)
}

func TestReconcileSettlesJobsFinishedOutsideTheMiddleware(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t) // no workers: the test plays River's part in SQL
	id := b.submitYAML(t, `
name: reconcile
nodes:
  - {id: done, kind: noop}
  - {id: lost, kind: noop}
  - {id: after-done, kind: echo, deps: [done]}
  - {id: after-lost, kind: echo, deps: [lost]}
`)
	// A worker completed done's job with river.JobCompleteTx but never
	// settled the node; River's rescuer discarded lost's job.
	_, err := b.db.Pool.Exec(ctx, `
UPDATE river_job SET
    state = CASE WHEN metadata->>'qf_path' = 'done' THEN 'completed' ELSE 'discarded' END::river_job_state,
    attempt = 1, attempted_at = now() - interval '1 minute', finalized_at = now() - interval '1 minute',
    metadata = CASE WHEN metadata->>'qf_path' = 'done' THEN metadata || '{"output": {"x": 1}}' ELSE metadata END,
    errors = CASE WHEN metadata->>'qf_path' = 'lost' THEN ARRAY['{"error": "worker died", "attempt": 1}'::jsonb] END`)
	require.NoError(t, err)

	res, err := b.client.Reconcile(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, res.Settled)

	st, err := b.client.Status(ctx, id)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"done": "completed", "lost": "failed", "after-done": "available", "after-lost": "cancelled"}, nodeStates(st))
	require.JSONEq(t, `{"x": 1}`, string(nodeByID(t, st, "done").Output))
	require.Equal(t, "worker died", *nodeByID(t, st, "lost").Error)

	// Running it again changes nothing.
	res, err = b.client.Reconcile(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Settled)
}

// TestProgress counts a workflow's nodes as Status lists them.
func TestProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, "name: prog\nnodes:\n  - {id: a, kind: noop}\n  - id: g\n    deps: [a]\n    nodes:\n      - {id: x, kind: fail, args: {times: -1}, max_attempts: 1}\n      - {id: y, kind: noop}\n  - {id: z, kind: noop, deps: [g]}\n")
	st := b.waitFinished(t, id, 30*time.Second)
	require.EqualValues(t, "failed", st.Status)

	p, err := b.client.Progress(ctx, id)
	require.NoError(t, err)
	require.Equal(t, id, p.ID)
	require.Equal(t, "prog", p.Name)
	require.EqualValues(t, "failed", p.Status)
	require.NotNil(t, p.FinishedAt)
	require.Equal(t, len(st.Nodes), p.Nodes)
	require.Equal(t, 5, p.Final)  // a, x, y completed/failed, g failed, z cancelled
	require.Equal(t, 1, p.Failed) // the leaf x; the group is not counted

	_, err = b.client.Progress(ctx, "00000000-0000-0000-0000-000000000000")
	require.ErrorIs(t, err, flow.ErrNotFound)
	_, err = b.client.Progress(ctx, "nope")
	require.ErrorIs(t, err, flow.ErrInvalidID)
}

// TestReconcilerPassesKeepAWatermark: the fleet's reconciler passes
// (Member.Run) look back six hours only once an hour; between, a pass
// looks at the jobs finalized since the previous pass's watermark, less a
// minute. A job finalized outside the middleware half an hour before the
// watermark is left to the next full pass, which settles it; one
// finalized now is settled by the next incremental pass.
func TestReconcilerPassesKeepAWatermark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupWith(t, &flow.Config{ReconcileInterval: time.Second}) // no workers
	pool := b.db.Pool
	id := b.submitYAML(t, "name: watermark\nnodes:\n  - {id: old, kind: noop}\n  - {id: new, kind: noop}\n")
	lease := func() (checked, full *time.Time) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT checked_until, full_at FROM qf_lease WHERE name = 'reconcile'`).Scan(&checked, &full))
		return checked, full
	}
	finalize := func(path, ago string) {
		_, err := pool.Exec(ctx, `
UPDATE river_job SET state = 'completed', attempt = 1, attempted_at = now() - $2::interval, finalized_at = now() - $2::interval
WHERE metadata->>'qf_path' = $1`, path, ago)
		require.NoError(t, err)
	}
	state := func(node string) string {
		st, err := b.client.Status(ctx, id)
		require.NoError(t, err)
		return nodeStates(st)[node]
	}

	m, err := b.client.NewMember(flow.MemberConfig{ID: "m", HeartbeatInterval: 20 * time.Millisecond, DeadAfter: time.Second})
	require.NoError(t, err)
	require.NoError(t, m.Join(ctx))
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go m.Run(runCtx) //nolint:errcheck

	// The first pass is a full one and sets the watermark.
	require.Eventually(t, func() bool { c, f := lease(); return c != nil && f != nil }, 10*time.Second, 20*time.Millisecond)
	_, fullAt := lease()

	finalize("old", "30 minutes")
	finalize("new", "1 second")
	require.Eventually(t, func() bool { return state("new") == "completed" }, 10*time.Second, 20*time.Millisecond,
		"an incremental pass settles a job finalized after the watermark")
	require.NotEqual(t, "completed", state("old"), "an incremental pass looked back past its window")
	_, again := lease()
	require.Equal(t, fullAt, again, "a full pass ran within the hour")

	// An hour later (as far as full_at says), the next pass is full.
	_, err = pool.Exec(ctx, `UPDATE qf_lease SET full_at = full_at - interval '61 minutes' WHERE name = 'reconcile'`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return state("old") == "completed" }, 10*time.Second, 20*time.Millisecond,
		"the full pass settles the job finalized before the watermark")
}
