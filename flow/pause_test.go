package flow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// dbNow is the database's clock.
func dbNow(t *testing.T, b *testBundle) time.Time {
	t.Helper()
	var now time.Time
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&now))
	return now
}

// startsBetween lists the nodes of wf whose job started (attempted_at) in
// [from, to).
func startsBetween(t *testing.T, b *testBundle, wf string, from, to time.Time) []string {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `
SELECT metadata->>'qf_path' FROM river_job
WHERE metadata->>'qf_wf' = $1 AND attempted_at >= $2 AND attempted_at < $3 ORDER BY id`, wf, from, to)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var p string
		require.NoError(t, rows.Scan(&p))
		out = append(out, p)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestPauseWorkflow pauses a workflow while one node runs and others are
// queued (scheduled for a moment later): the running node finishes, nothing
// starts while it is paused (its dependents wait as paused, the queued
// nodes' jobs are held), status and list say paused, and resume runs the
// rest.
func TestPauseWorkflow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	b.startWorker(t, 10)
	soon := time.Now().Add(500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	id := b.submitYAML(t, fmt.Sprintf(`
name: pausable
nodes:
  - {id: a, kind: hold, args: {key: pause-a}}
  - {id: b, kind: noop, deps: [a]}
  - {id: c, kind: noop, deps: [a]}
  - {id: later1, kind: noop, not_before: "%s"}
  - {id: later2, kind: noop, not_before: "%s"}
`, soon, soon))
	b.waitNodeState(t, id, "a", "running")
	ctx := context.Background()
	res, err := b.client.Pause(ctx, flow.PauseTarget{Workflow: id})
	require.NoError(t, err)
	require.True(t, res.Changed)
	require.Equal(t, 2, res.Jobs, "the two scheduled jobs are held")
	pausedAt := dbNow(t, b)
	again, err := b.client.Pause(ctx, flow.PauseTarget{Workflow: id})
	require.NoError(t, err)
	require.False(t, again.Changed)

	b.gates.open("pause-a")
	b.waitNodeState(t, id, "a", "completed")
	time.Sleep(1500 * time.Millisecond) // past not_before, and time for a wrong release to run
	st, err := b.client.Status(ctx, id)
	require.NoError(t, err)
	require.True(t, st.Paused)
	require.Equal(t, "paused", nodeStates(st)["b"])
	require.Equal(t, "paused", nodeStates(st)["c"])
	list, err := b.client.List(ctx, &flow.ListParams{})
	require.NoError(t, err)
	require.True(t, list[0].Paused)

	resumedAt := dbNow(t, b)
	require.Empty(t, startsBetween(t, b, id, pausedAt, resumedAt), "nodes started while the workflow was paused")
	res, err = b.client.Resume(ctx, flow.PauseTarget{Workflow: id})
	require.NoError(t, err)
	require.True(t, res.Changed)
	require.Equal(t, 4, res.Jobs, "two held jobs released, two paused nodes started")
	st = b.waitFinished(t, id, time.Minute)
	require.Equal(t, "completed", string(st.Status))
	require.False(t, st.Paused)
}

// TestPauseKind pauses kind echo: echo nodes of every workflow wait (no job
// starts) while other kinds run, and start after resume.
func TestPauseKind(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	ctx := context.Background()
	_, err := b.client.Pause(ctx, flow.PauseTarget{Kind: "echo"})
	require.NoError(t, err)
	pausedAt := dbNow(t, b)
	id := b.submitYAML(t, `
name: kinds
nodes:
  - {id: first, kind: noop}
  - {id: e1, kind: echo, deps: [first]}
  - {id: e2, kind: echo}
`)
	other := b.submitYAML(t, "name: other\nnodes: [{id: n, kind: noop}]\n")
	require.Equal(t, "completed", string(b.waitFinished(t, other, time.Minute).Status), "other kinds run")
	b.waitNodeState(t, id, "first", "completed")
	time.Sleep(time.Second)
	st, err := b.client.Status(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "paused", nodeStates(st)["e1"])
	resumedAt := dbNow(t, b)
	require.Equal(t, []string{"first"}, startsBetween(t, b, id, pausedAt, resumedAt), "only the noop node started while echo was paused")
	_, err = b.client.Resume(ctx, flow.PauseTarget{Kind: "echo"})
	require.NoError(t, err)
	require.Equal(t, "completed", string(b.waitFinished(t, id, time.Minute).Status))
}

// TestPauseQueue pauses queue default through River while three River
// clients serve it: no node of a workflow submitted meanwhile starts on any
// of them, and all of it runs after resume.
func TestPauseQueue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 3 {
		b.startWorker(t, 10)
	}
	ctx := context.Background()
	warm := b.submitYAML(t, "name: warm\nnodes: [{id: n, kind: noop}]\n")
	b.waitFinished(t, warm, time.Minute) // the queue's row exists once a client served it
	res, err := b.client.Pause(ctx, flow.PauseTarget{Queue: "default"})
	require.NoError(t, err)
	require.True(t, res.Changed)
	paused, err := b.client.PausedQueues(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"default"}, paused)
	time.Sleep(300 * time.Millisecond) // River's clients hear of it through LISTEN
	pausedAt := dbNow(t, b)
	var spec string
	spec = "name: queued\nnodes:\n"
	for i := range 20 {
		spec += fmt.Sprintf("  - {id: n%d, kind: noop}\n", i)
	}
	id := b.submitYAML(t, spec)
	time.Sleep(1500 * time.Millisecond)
	resumedAt := dbNow(t, b)
	require.Empty(t, startsBetween(t, b, id, pausedAt, resumedAt), "nodes started while their queue was paused")
	_, err = b.client.Resume(ctx, flow.PauseTarget{Queue: "default"})
	require.NoError(t, err)
	require.Equal(t, "completed", string(b.waitFinished(t, id, time.Minute).Status))

	_, err = b.client.Pause(ctx, flow.PauseTarget{Queue: "nosuch"})
	require.ErrorIs(t, err, flow.ErrNotFound)
	_, err = b.client.Pause(ctx, flow.PauseTarget{})
	require.ErrorIs(t, err, flow.ErrPauseTarget)
}
