package flow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/jobs"
)

// InterruptArgs are the args of the test kind "interrupt": on its first
// attempt it completes its node in its own transaction and then stops at the
// given point, as a process that dies there would.
type InterruptArgs struct {
	At string `json:"at"` // "before-commit" or "after-commit"
}

func (InterruptArgs) Kind() string { return "interrupt" }

type interruptWorker struct {
	river.WorkerDefaults[InterruptArgs]
	pool *pgxpool.Pool
}

var errInterrupted = errors.New("interrupted")

func (w *interruptWorker) Work(ctx context.Context, job *river.Job[InterruptArgs]) error {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := flow.CompleteNodeTx(ctx, tx); err != nil {
		return err
	}
	if job.Attempt > 1 {
		return tx.Commit(ctx)
	}
	switch job.Args.At {
	case "before-commit":
		return errInterrupted // the deferred rollback undoes everything
	case "after-commit":
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		return errInterrupted // River keeps the committed completion
	}
	return tx.Commit(ctx)
}

// TestInterruptedCompletion stops a completion between its statements and
// its commit, and between its commit and the worker's return: the node is
// completed exactly once and its child released exactly once either way.
func TestInterruptedCompletion(t *testing.T) {
	t.Parallel()

	for _, at := range []string{"before-commit", "after-commit"} {
		t.Run(at, func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			b := setup(t)
			workers := river.NewWorkers()
			require.NoError(t, jobs.Register(workers))
			river.AddWorker(workers, &interruptWorker{pool: b.db.Pool})
			rc, err := river.NewClient(riverpgxv5.New(b.db.Pool), riverConfig(t, b.client, &river.Config{
				Queues:      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}},
				RetryPolicy: quickRetry{},
				Workers:     workers,
			}))
			require.NoError(t, err)
			require.NoError(t, rc.Start(ctx))
			t.Cleanup(func() { _ = rc.StopAndCancel(context.Background()) })

			id := b.submitYAML(t, "name: interrupt\nnodes:\n  - {id: a, kind: interrupt, args: {at: "+at+"}}\n  - {id: b, kind: echo, deps: [a]}\n")
			st := b.waitFinished(t, id, waitLong)
			require.EqualValues(t, "completed", st.Status)

			wantAttempts := map[string]int{"before-commit": 2, "after-commit": 1}[at]
			require.Equal(t, wantAttempts, nodeByID(t, st, "a").Attempts)
			var childJobs int
			require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT count(*) FROM river_job WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', 'b')`, id).Scan(&childJobs))
			require.Equal(t, 1, childJobs)
			var aState string
			require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT state::text FROM river_job WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_path', 'a')`, id).Scan(&aState))
			require.Equal(t, "completed", aState)
		})
	}
}
