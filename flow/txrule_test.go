package flow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// onePool returns a pool of one connection on db's schema: a Tx function
// that did any of its I/O outside its transaction would wait for a second
// connection until its deadline.
func onePool(t *testing.T, db *pgtest.DB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// TestTxFunctionsUseOnlyTheirTransaction runs SubmitTx, CancelTx and
// RetryTx in a transaction that holds the pool's only connection.
func TestTxFunctionsUseOnlyTheirTransaction(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	pool := onePool(t, db)
	client, err := flow.NewClient(pool, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	spec, err := dag.ParseBytes([]byte("name: one-conn\nnodes: [{id: a, kind: resize}, {id: b, kind: noop, deps: [a]}]\n"))
	require.NoError(t, err)
	var id string
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// A kind registered earlier in the same transaction counts.
		if err := client.RegisterKindsTx(ctx, tx, "resize"); err != nil {
			return err
		}
		res, err := client.SubmitTx(ctx, tx, spec, nil)
		if err != nil {
			return err
		}
		id = res.ID
		_, err = client.CancelTx(ctx, tx, id)
		return err
	}))

	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		res, err := client.RetryTx(ctx, tx, id, flow.RetryAll)
		if err == nil && res.Jobs != 1 {
			return errors.New("retry enqueued no job")
		}
		return err
	}))
	st, err := client.Status(ctx, id)
	require.NoError(t, err)
	require.Equal(t, flowtype.WorkflowRunning, st.Status)

	// The wrappers open their own transaction on the one connection too.
	_, err = client.Cancel(ctx, id)
	require.NoError(t, err)
	_, err = client.Retry(ctx, id, flow.RetryFailedOnly)
	require.NoError(t, err)
	_, err = client.Submit(ctx, spec, nil)
	require.NoError(t, err)
}

// TestErrorMessages pins what callers and the CLI print: each layer names
// the operation once.
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const unknown = "7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f"

	_, err := b.client.Cancel(ctx, unknown)
	require.EqualError(t, err, "cancel workflow "+unknown+": workflow not found")
	require.ErrorIs(t, err, flow.ErrNotFound)

	_, err = b.client.Retry(ctx, unknown, "")
	require.EqualError(t, err, "retry workflow "+unknown+": workflow not found")

	_, err = b.client.Cancel(ctx, "nope")
	require.EqualError(t, err, `invalid workflow id "nope": want a UUID such as 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f`)
	require.ErrorIs(t, err, flow.ErrInvalidID)

	_, err = b.client.Retry(ctx, unknown, "sideways")
	require.EqualError(t, err, `invalid retry mode "sideways" (want failed-only, failed-and-downstream or all)`)

	id := b.submitYAML(t, "name: msgs\nnodes: [{id: a, kind: noop}]\n")
	_, err = b.client.Retry(ctx, id, flow.RetryAll)
	require.EqualError(t, err, "retry workflow "+id+": workflow is still active (it is pending)")
	se, ok := errors.AsType[*flow.StateError](err)
	require.True(t, ok, "a *flow.StateError")
	require.Equal(t, flow.StateError{WorkflowID: id, State: flowtype.WorkflowPending, Reason: flow.ErrStillActive}, *se)

	_, err = b.client.Cancel(ctx, id)
	require.NoError(t, err)
	_, err = b.client.Cancel(ctx, id)
	require.EqualError(t, err, "cancel workflow "+id+": workflow already finished (it is cancelled)")
	require.ErrorIs(t, err, flow.ErrAlreadyFinished)
	se, ok = errors.AsType[*flow.StateError](err)
	require.True(t, ok)
	require.Equal(t, flowtype.WorkflowCancelled, se.State)
	require.NotErrorIs(t, err, flow.ErrStillActive)

	_, err = b.db.Pool.Exec(ctx, `UPDATE qf_workflow SET status = 'completed' WHERE id = $1`, id)
	require.NoError(t, err)
	_, err = b.client.Retry(ctx, id, flow.RetryAll)
	require.EqualError(t, err, "retry workflow "+id+": workflow completed; nothing to retry")
	require.ErrorIs(t, err, flow.ErrNotRetryable)
}

// TestRiverConfig checks that RiverConfig leaves the caller's config alone
// (a second call with the same Workers works) and refuses a River schema.
func TestRiverConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	workers := river.NewWorkers()
	in := &river.Config{Workers: workers, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}}}
	for range 2 {
		out, err := b.client.RiverConfig(in)
		require.NoError(t, err)
		require.Len(t, out.WorkerMiddleware, 1)
		require.Same(t, workers, out.Workers)
		require.Equal(t, flow.FetchCooldownDefault, out.FetchCooldown)
	}
	require.Empty(t, in.WorkerMiddleware)
	require.Zero(t, in.FetchCooldown)

	_, err := b.client.RiverConfig(&river.Config{Schema: "elsewhere"})
	require.ErrorIs(t, err, flow.ErrRiverSchema)
	_, err = b.client.StartWorker(context.Background(), &flow.WorkerConfig{River: &river.Config{Schema: "elsewhere"}})
	require.ErrorIs(t, err, flow.ErrRiverSchema)
}

func TestMemberIDLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	long := make([]byte, flow.MemberIDMax+1)
	for i := range long {
		long[i] = 'w'
	}
	_, err := b.client.NewMember(flow.MemberConfig{ID: string(long)})
	require.EqualError(t, err, "flow: member: ID is 101 bytes long (River's limit is 100)")
	_, err = b.client.NewMember(flow.MemberConfig{ID: string(long[:flow.MemberIDMax])})
	require.NoError(t, err)
	require.LessOrEqual(t, len(flow.NewWorkerID()), flow.MemberIDMax)
}

// TestStartWorker runs a workflow on a worker started with StartWorker, then
// stops it, twice with the same River config: the lifecycle registers the
// kinds, joins and leaves the fleet, and runs the reconciler.
func TestStartWorker(t *testing.T) {
	t.Parallel()
	b := setupWith(t, &flow.Config{ReconcileInterval: time.Second})
	ctx := context.Background()
	workers := river.NewWorkers()
	river.AddWorker(workers, &flakyWorker{failing: &b.failing})
	cfg := &flow.WorkerConfig{
		River: &river.Config{
			Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}},
			Workers: workers,
		},
		Kinds:             []string{FlakyArgs{}.Kind()},
		HeartbeatInterval: 50 * time.Millisecond,
		DeadAfter:         time.Second,
	}
	for round := range 2 {
		w, err := b.client.StartWorker(ctx, cfg)
		require.NoError(t, err, "round %d", round)
		id := w.Member().ID()
		var kinds []string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT kinds FROM qf_worker WHERE id = $1 AND dead_at IS NULL`, id).Scan(&kinds))
		require.Equal(t, []string{"flaky"}, kinds)

		// flaky is registered, so it is accepted without AllowUnknownKinds.
		spec, err := dag.ParseBytes([]byte("name: started\nnodes: [{id: a, kind: flaky, args: {key: k}}]\n"))
		require.NoError(t, err)
		res, err := b.client.Submit(ctx, spec, nil)
		require.NoError(t, err)
		st := b.waitFinished(t, res.ID, waitLong)
		require.Equal(t, flowtype.WorkflowCompleted, st.Status)
		if round == 0 {
			// The member's first tick takes the reconcile lease.
			require.Eventually(t, func() bool {
				var holder *string
				err := b.db.Pool.QueryRow(ctx, `SELECT holder FROM qf_lease WHERE name = 'reconcile'`).Scan(&holder)
				return err == nil && holder != nil && *holder == id
			}, waitLong, 20*time.Millisecond, "the member took the reconcile lease")
		}

		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		require.NoError(t, w.Stop(stopCtx))
		cancel()
		var dead bool
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT dead_at IS NOT NULL FROM qf_worker WHERE id = $1`, id).Scan(&dead))
		require.True(t, dead, "the worker left the fleet")
		require.Empty(t, cfg.River.WorkerMiddleware, "StartWorker changed the caller's config")
	}
}
