package flow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// nodeRow is what a node's row says about its outcome; a replay or a late
// completion must leave it unchanged.
type nodeRow struct {
	State         string
	RemainingDeps int
	FailedDeps    int
	Attempts      int
	JobID         *int64
	Output        *string
	FinishedAt    *time.Time
}

func readNode(t *testing.T, b *testBundle, id, path string) nodeRow {
	t.Helper()
	var r nodeRow
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
SELECT state, remaining_deps, failed_deps, attempts, job_id, output::text, finished_at
FROM qf_node WHERE workflow_id = $1 AND path = $2`, id, path).Scan(
		&r.State, &r.RemainingDeps, &r.FailedDeps, &r.Attempts, &r.JobID, &r.Output, &r.FinishedAt))
	return r
}

// workflowRow is the workflow's row: status and counters.
type workflowRow struct {
	Status     string
	Remaining  int
	Failed     int
	Output     *string
	FinishedAt *time.Time
}

func readWorkflow(t *testing.T, b *testBundle, id string) workflowRow {
	t.Helper()
	var r workflowRow
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
SELECT status, remaining, failed, output::text, finished_at FROM qf_workflow WHERE id = $1`, id).Scan(
		&r.Status, &r.Remaining, &r.Failed, &r.Output, &r.FinishedAt))
	return r
}

// jobsOf counts the River jobs of a node.
func jobsOf(t *testing.T, b *testBundle, id, path string) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
SELECT count(*) FROM river_job WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', $2::text)`, id, path).Scan(&n))
	return n
}

// waitJobFinalized waits until the River job with this id is finalized
// with at least attempts attempts.
func waitJobFinalized(t *testing.T, b *testBundle, jobID int64, attempts int) {
	t.Helper()
	require.Eventually(t, func() bool {
		var final bool
		require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
SELECT finalized_at IS NOT NULL AND attempt >= $2 FROM river_job WHERE id = $1`, jobID, attempts).Scan(&final))
		return final
	}, time.Minute, 10*time.Millisecond, "job %d never finalized", jobID)
}

// TestReplayedJobChangesNothing hands a node's job out again after the node
// completed — River makes the completed job available again, or a copy of
// the job (same metadata) is inserted — while the join that waits for the
// node also waits for a second dep that is still running. The replay runs
// to completion, yet the node is settled once: its row is unchanged, the
// join still waits (one dep left, no job), the workflow's counters are
// unchanged, and the join starts only after its second dep finished.
func TestReplayedJobChangesNothing(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		// replay hands out node a's job ($1) again, returning the id of
		// the job that runs; copy says it is a new job (first attempt)
		// rather than the old one's second attempt.
		replay string
		copy   bool
	}{
		{name: "completed job made available again", replay: `
UPDATE river_job SET state = 'available', scheduled_at = now(), finalized_at = NULL
WHERE id = $1 RETURNING id`},
		{name: "copy of the job inserted", copy: true, replay: `
INSERT INTO river_job (args, kind, max_attempts, metadata, priority, queue, state, scheduled_at, tags)
SELECT args, kind, max_attempts, metadata - 'output', priority, queue, 'available', now(), tags
FROM river_job WHERE id = $1 RETURNING id`},
	}
	for _, batchMax := range []int{flow.CompletionBatchMaxDefault, 1} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s, batch max %d", tt.name, batchMax), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				b := setupWith(t, noReconciler(flow.Config{CompletionBatchMax: batchMax}))
				b.startWorker(t, 10)
				id := b.submitYAML(t, `
name: replay
nodes:
  - {id: a, kind: echo, args: {v: 1}}
  - {id: s, kind: hold, args: {key: s}}
  - {id: join, kind: echo, deps: [a, s]}
`)
				require.Eventually(t, func() bool { return readNode(t, b, id, "a").State == "completed" },
					time.Minute, 10*time.Millisecond)
				aBefore := readNode(t, b, id, "a")
				wfBefore := readWorkflow(t, b, id)
				joinBefore := readNode(t, b, id, "join")
				require.Equal(t, 1, joinBefore.RemainingDeps)
				waitJobFinalized(t, b, *aBefore.JobID, 1) // River's own completion write is done

				var replayID int64
				require.NoError(t, b.db.Pool.QueryRow(ctx, tt.replay, *aBefore.JobID).Scan(&replayID))
				want := 2 // the reset job's second attempt
				if tt.copy {
					want = 1
				}
				waitJobFinalized(t, b, replayID, want)
				var replayState string
				require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT state::text FROM river_job WHERE id = $1`, replayID).Scan(&replayState))
				require.Equal(t, "completed", replayState, "the replay itself succeeded")

				// Settled once: nothing moved although the replay completed.
				require.Equal(t, aBefore, readNode(t, b, id, "a"), "the replay settled node a again")
				require.Equal(t, joinBefore, readNode(t, b, id, "join"), "the replay released the join")
				require.Zero(t, jobsOf(t, b, id, "join"), "the join got a job while s still runs")
				require.Equal(t, wfBefore, readWorkflow(t, b, id), "the replay changed the workflow's counters")
				require.EqualValues(t, "running", wfBefore.Status)

				b.gates.open("s")
				st := b.waitFinishedOrStalled(t, id, time.Minute)
				require.EqualValues(t, "completed", st.Status)
				for _, n := range st.Nodes {
					require.EqualValues(t, "completed", n.State, n.ID)
					require.Equal(t, 1, n.Attempts, n.ID)
				}
				require.Equal(t, 1, jobsOf(t, b, id, "join"))
				var extra []int64
				if tt.copy {
					extra = append(extra, replayID) // a's second job is the test's own
				}
				assertReleasedOnceInOrder(t, b, id, extra...)
				assertNothingToReconcile(t, b)
			})
		}
	}
}

// TestCompletionAfterCancelChangesNothing cancels a workflow while one of
// its jobs runs; the job ignores the request to stop and completes
// afterwards. Its completion must change nothing: the node stays cancelled,
// its dependent gets no job, the workflow stays cancelled with the same
// counters.
func TestCompletionAfterCancelChangesNothing(t *testing.T) {
	t.Parallel()
	for _, batchMax := range []int{flow.CompletionBatchMaxDefault, 1} {
		t.Run(fmt.Sprintf("batch max %d", batchMax), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setupWith(t, noReconciler(flow.Config{CompletionBatchMax: batchMax}))
			b.startWorker(t, 10)
			id := b.submitYAML(t, `
name: late
nodes:
  - {id: h, kind: hold, args: {key: h}}
  - {id: after, kind: echo, deps: [h]}
  - {id: done, kind: noop}
`)
			var jobID int64
			require.Eventually(t, func() bool {
				err := b.db.Pool.QueryRow(ctx, `
SELECT id FROM river_job WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', 'h') AND state = 'running'`, id).Scan(&jobID)
				return err == nil
			}, time.Minute, 10*time.Millisecond, "h never started")
			require.Eventually(t, func() bool { return readNode(t, b, id, "done").State == "completed" },
				time.Minute, 10*time.Millisecond)

			_, err := b.client.Cancel(ctx, id)
			require.NoError(t, err)
			hBefore, afterBefore, wfBefore := readNode(t, b, id, "h"), readNode(t, b, id, "after"), readWorkflow(t, b, id)
			require.EqualValues(t, "cancelled", hBefore.State)
			require.EqualValues(t, "cancelled", afterBefore.State)
			require.EqualValues(t, "cancelled", wfBefore.Status)

			b.gates.open("h") // the job returns nil now: a completion after the cancel
			waitJobFinalized(t, b, jobID, 1)
			var jobState string
			require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT state::text FROM river_job WHERE id = $1`, jobID).Scan(&jobState))
			require.Equal(t, "completed", jobState, "the job's Work succeeded after the cancel")

			require.Equal(t, hBefore, readNode(t, b, id, "h"), "the late completion settled the cancelled node")
			require.Equal(t, afterBefore, readNode(t, b, id, "after"))
			require.Zero(t, jobsOf(t, b, id, "after"), "the late completion released a dependent")
			require.Equal(t, wfBefore, readWorkflow(t, b, id), "the late completion changed the workflow")
			st, err := b.client.Status(ctx, id)
			require.NoError(t, err)
			require.EqualValues(t, "cancelled", st.Status)
			require.Equal(t, map[string]string{"h": "cancelled", "after": "cancelled", "done": "completed"}, nodeStates(st))
			assertNothingToReconcile(t, b)
		})
	}
}
