package flow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDelayAndNotBefore checks from River's timestamps that a delayed node
// starts at least its delay after its dep finished, and a not_before node
// no earlier than its time.
func TestDelayAndNotBefore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	notBefore := time.Now().Add(2 * time.Second).UTC().Truncate(time.Millisecond)
	id := b.submitYAML(t, fmt.Sprintf(`
name: timed
nodes:
  - {id: a, kind: noop}
  - {id: b, kind: noop, deps: [a], delay: 1500ms}
  - {id: c, kind: noop, not_before: "%s"}
`, notBefore.Format(time.RFC3339Nano)))
	require.Equal(t, "completed", string(b.waitFinished(t, id, time.Minute).Status))
	spans := map[string]jobSpan{}
	for _, s := range keyedSpans(t, b.db.Pool, "noop", []string{id}) {
		spans[s.path] = s
	}
	require.GreaterOrEqual(t, spans["b"].start.Sub(spans["a"].end), 1500*time.Millisecond, "delay after the dep finished")
	require.False(t, spans["c"].start.Before(notBefore), "c started at %s, before %s", spans["c"].start, notBefore)
}

// TestDeadlineCancels runs a workflow whose node never finishes under a
// 1 s deadline: the workflow is cancelled after the deadline, with the
// reason recorded and shown in its status.
func TestDeadlineCancels(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startWorker(t, 10)
	id := b.submitYAML(t, `
name: deadline
deadline: 1s
nodes:
  - {id: stuck, kind: hold, args: {key: never}}
  - {id: after, kind: noop, deps: [stuck]}
`)
	st := b.waitFinished(t, id, time.Minute)
	require.Equal(t, "cancelled", string(st.Status))
	require.NotNil(t, st.CancelReason)
	require.Equal(t, "deadline of 1s passed", *st.CancelReason)
	require.GreaterOrEqual(t, st.FinishedAt.Sub(st.CreatedAt), time.Second)
	require.Equal(t, map[string]string{"stuck": "cancelled", "after": "cancelled"}, nodeStates(st))

	// A workflow that finishes in time is left alone by its deadline job.
	done := b.submitYAML(t, "name: quick\ndeadline: 1s\nnodes: [{id: a, kind: noop}]\n")
	require.Equal(t, "completed", string(b.waitFinished(t, done, time.Minute).Status))
	require.Eventually(t, func() bool {
		var state string
		err := b.db.Pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE kind = 'qf_deadline' AND args->>'workflow_id' = $1`, done).Scan(&state)
		return err == nil && state == "completed"
	}, 30*time.Second, 50*time.Millisecond)
	st, err := b.client.Status(context.Background(), done)
	require.NoError(t, err)
	require.Equal(t, "completed", string(st.Status))
	require.Nil(t, st.CancelReason)
}
