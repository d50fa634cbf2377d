package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/jobs"
)

// errorLog is a slog handler that keeps the records at level Error and
// above.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (h *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *errorLog) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	h.mu.Lock()
	h.msgs = append(h.msgs, msg)
	h.mu.Unlock()
	return nil
}

func (h *errorLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorLog) WithGroup(string) slog.Handler      { return h }

func (h *errorLog) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

// TestFailedNodeFinalizesItsJob: a node that fails on its last attempt, or
// cancels itself, has its River job final (discarded, cancelled) in the
// transaction that records the node, so nobody sees the node final and its
// job running, and River's own update of the job afterwards changes nothing:
// exactly one error entry per attempt, in River's shape, and no error
// logged. A River middleware outside flow's reads the job right after flow's
// middleware returned, before River's completer runs.
func TestFailedNodeFinalizesItsJob(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	logs := &errorLog{}
	logger := slog.New(logs)
	b := setupWith(t, &flow.Config{Logger: logger})

	// seen maps "path attempt" to the job's state when flow's middleware
	// returned.
	var seen sync.Map
	outer := river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
		err := doInner(ctx)
		var path, state string
		if qerr := b.db.Pool.QueryRow(context.WithoutCancel(ctx),
			`SELECT metadata->>'qf_path', state::text FROM river_job WHERE id = $1`, job.ID).Scan(&path, &state); qerr != nil {
			state = "read failed: " + qerr.Error()
		}
		seen.Store(fmt.Sprintf("%s %d", path, job.Attempt), state)
		return err
	})

	workers := river.NewWorkers()
	require.NoError(t, jobs.Register(workers))
	rc, err := river.NewClient(riverpgxv5.New(b.db.Pool), riverConfig(t, b.client, &river.Config{
		Logger:           logger,
		Queues:           map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}},
		RetryPolicy:      quickRetry{},
		Workers:          workers,
		WorkerMiddleware: []rivertype.WorkerMiddleware{outer},
	}))
	require.NoError(t, err)
	events, cancelSub := rc.Subscribe(river.EventKindJobFailed, river.EventKindJobCancelled)
	defer cancelSub()
	require.NoError(t, rc.Start(ctx))
	t.Cleanup(func() { _ = rc.StopAndCancel(context.Background()) })

	id := b.submitYAML(t, `
name: fail-final
nodes:
  - {id: bad, kind: fail, args: {times: -1}, max_attempts: 2}
  - {id: stop, kind: sleep, args: {ms: -1}}
`)
	st := b.waitFinished(t, id, waitLong)
	require.EqualValues(t, "failed", st.Status)
	require.Equal(t, map[string]string{"bad": "failed", "stop": "cancelled"}, nodeStates(st))

	// Right after flow's middleware returned: the first attempt of bad is
	// River's to retry, the final ones are already final.
	for _, want := range []struct{ key, state string }{
		{"bad 1", "running"}, {"bad 2", "discarded"}, {"stop 1", "cancelled"},
	} {
		// The workflow is final once flow's transaction committed; the outer
		// middleware records what it saw a moment later.
		var got any
		require.Eventually(t, func() bool {
			var ok bool
			got, ok = seen.Load(want.key)
			return ok
		}, waitLong, 5*time.Millisecond, "no job %s seen", want.key)
		require.Equal(t, want.state, got, "job state of %s when flow's middleware returned", want.key)
	}

	// River's completer then ran its own update on both final jobs (its
	// events carry the rows it returned) without changing them.
	final := map[string]*rivertype.JobRow{}
	deadline := time.After(waitLong)
	for len(final) < 2 {
		select {
		case ev := <-events:
			if s := ev.Job.State; s == rivertype.JobStateDiscarded || s == rivertype.JobStateCancelled {
				final[string(s)] = ev.Job
			}
		case <-deadline:
			t.Fatalf("River's completer reported %d of 2 final jobs", len(final))
		}
	}
	for path, want := range map[string]struct {
		state    rivertype.JobState
		attempts []int
		err      string
	}{
		"bad":  {rivertype.JobStateDiscarded, []int{1, 2}, "fail: attempt 2 (times -1): planned failure"},
		"stop": {rivertype.JobStateCancelled, []int{1}, "JobCancelError: sleep: ms must not be negative (got -1)"},
	} {
		var (
			jobID     int64
			state     string
			finalized *time.Time
			errs      []json.RawMessage
		)
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT id, state::text, finalized_at, coalesce(errors, '{}') FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', $2::text)`, id, path).Scan(&jobID, &state, &finalized, &errs))
		require.EqualValues(t, want.state, state, path)
		require.NotNil(t, finalized, path)
		require.Equal(t, jobID, final[string(want.state)].ID, path)
		require.Len(t, final[string(want.state)].Errors, len(want.attempts), path)

		var attempts []int
		for _, e := range errs {
			var keys map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(e, &keys))
			names := make([]string, 0, len(keys))
			for k := range keys {
				names = append(names, k)
			}
			sort.Strings(names)
			require.Equal(t, []string{"at", "attempt", "error", "trace"}, names, path)
			var ae rivertype.AttemptError
			require.NoError(t, json.Unmarshal(e, &ae))
			require.False(t, ae.At.IsZero(), path)
			attempts = append(attempts, ae.Attempt)
		}
		require.Equal(t, want.attempts, attempts, "%s: one error entry per attempt", path)
		var last rivertype.AttemptError
		require.NoError(t, json.Unmarshal(errs[len(errs)-1], &last))
		require.Equal(t, want.err, last.Error, path)
		require.Equal(t, want.err, *nodeByID(t, st, path).Error, path)
	}
	require.Empty(t, logs.all(), "errors logged")
}
