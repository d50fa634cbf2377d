package metrics_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/jobs"
	"github.com/quantumflow/quantumflow/metrics"
)

// Tests of the metrics fed by flow's runtime: a workflow run and a
// dead-worker sweep.

// TestWorkflowThroughFlow runs a real workflow through flow's runtime with
// both the metrics middleware and the metrics observer installed.
func TestWorkflowThroughFlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	m := metrics.New()
	m.InitKinds(jobs.Kinds()...)
	client, err := flow.NewClient(db.Pool, &flow.Config{Observer: m.Observer(), Logger: discard})
	require.NoError(t, err)
	workers := river.NewWorkers()
	require.NoError(t, jobs.Register(workers))
	rc, err := river.NewClient(riverpgxv5.New(db.Pool), mustRiverConfig(t, client, &river.Config{
		Logger:           discard,
		Queues:           map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}},
		TestOnly:         true,
		WorkerMiddleware: []rivertype.WorkerMiddleware{m.Middleware()},
		Workers:          workers,
	}))
	require.NoError(t, err)
	require.NoError(t, rc.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, rc.StopAndCancel(stopCtx))
	})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	b := &testBundle{m: m, server: srv}

	spec, err := dag.ParseBytes([]byte(`
name: metrics-flow
nodes:
  - {id: a, kind: noop}
  - {id: b, kind: noop, deps: [a]}
  - {id: c, kind: fail, args: {times: -1}, max_attempts: 1}
`))
	require.NoError(t, err)
	_, err = client.Submit(ctx, spec, nil)
	require.NoError(t, err)

	// The observer is called after the commit that finished the workflow,
	// and the middleware counts a job after flow's middleware (inside it)
	// returned; a scrape is not a snapshot either. So poll until every
	// count is what it must be: an extra release or job would never match.
	want := []struct {
		name   string
		labels map[string]string
		n      float64
	}{
		{"quantumflow_workflows_finished_total", map[string]string{"status": "failed"}, 1},
		{"quantumflow_workflows_finished_total", map[string]string{"status": "completed"}, 0},
		{"quantumflow_nodes_released_total", nil, 1}, // b, released by a
		{"quantumflow_jobs_worked_total", map[string]string{"kind": "noop", "outcome": "completed"}, 2},
		{"quantumflow_jobs_worked_total", map[string]string{"kind": "fail", "outcome": "errored"}, 1},
		{"quantumflow_jobs_worked_total", map[string]string{"kind": "fail", "outcome": "completed"}, 0},
	}
	hists := []struct {
		name   string
		labels map[string]string
		n      uint64
	}{
		{"quantumflow_workflow_duration_seconds", map[string]string{"outcome": "failed"}, 1},
		{"quantumflow_workflow_duration_seconds", map[string]string{"outcome": "completed"}, 0},
		{"quantumflow_job_wait_seconds", map[string]string{"queue": river.QueueDefault}, 3},
		{"quantumflow_node_promotion_seconds", map[string]string{"queue": river.QueueDefault}, 3},
	}
	b.eventually(t, "the workflow's counts", func(fams map[string]*dto.MetricFamily) bool {
		for _, w := range want {
			if !has(fams, w.name, w.labels, w.n) {
				return false
			}
		}
		for _, h := range hists {
			m, ok := lookup(fams, h.name, h.labels)
			if !ok || m.GetHistogram().GetSampleCount() != h.n {
				return false
			}
		}
		return true
	})
}

// TestWorkflowDurationOfCancel cancels a workflow that never started: its
// duration is observed under outcome cancelled, from its submission.
func TestWorkflowDurationOfCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	m := metrics.New()
	client, err := flow.NewClient(db.Pool, &flow.Config{Observer: m.Observer(), Logger: discard})
	require.NoError(t, err)
	spec, err := dag.ParseBytes([]byte(`
name: metrics-cancel
nodes:
  - {id: a, kind: noop}
`))
	require.NoError(t, err)
	wf, err := client.Submit(ctx, spec, nil)
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	_, err = client.Cancel(ctx, wf.ID)
	require.NoError(t, err)

	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	fams := (&testBundle{m: m, server: srv}).scrape(t)
	h := sample(t, fams, "quantumflow_workflow_duration_seconds", map[string]string{"outcome": "cancelled"}).GetHistogram()
	require.Equal(t, uint64(1), h.GetSampleCount())
	require.GreaterOrEqual(t, h.GetSampleSum(), 0.02, "measured from created_at, since it never started")
	require.Less(t, h.GetSampleSum(), 10.0)
}

// TestDeadWorkerSweep lets a fleet member's heartbeat go stale while its
// River client runs two jobs, sweeps through flow, and checks that the
// observer counted the dead worker and both jobs it handed back.
func TestDeadWorkerSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t) // its River client never starts: the ghost's does
	fc, err := flow.NewClient(b.db.Pool, &flow.Config{Observer: b.m.Observer(), Logger: discard})
	require.NoError(t, err)

	workers := river.NewWorkers()
	river.AddWorker(workers, &blockWorker{release: b.release})
	ghost, err := river.NewClient(riverpgxv5.New(b.db.Pool), &river.Config{
		ID:       "ghost-worker",
		Logger:   discard,
		Queues:   map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		TestOnly: true,
		Workers:  workers,
	})
	require.NoError(t, err)
	member, err := fc.NewMember(flow.MemberConfig{ID: "ghost-worker", HeartbeatInterval: 10 * time.Millisecond, DeadAfter: 30 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, member.Join(ctx)) // and never again: it never Runs
	require.NoError(t, ghost.Start(ctx))
	t.Cleanup(func() {
		close(b.release)
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, ghost.StopAndCancel(stopCtx))
	})
	res, err := ghost.InsertMany(ctx, []river.InsertManyParams{
		{Args: blockArgs{}, InsertOpts: &river.InsertOpts{MaxAttempts: 1}},
		{Args: blockArgs{}, InsertOpts: &river.InsertOpts{MaxAttempts: 3}},
	})
	require.NoError(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for _, r := range res {
		for {
			job, err := ghost.JobGet(ctx, r.Job.ID)
			require.NoError(t, err)
			if job.State == rivertype.JobStateRunning {
				break
			}
			require.True(t, time.Now().Before(deadline), "job %d never ran", r.Job.ID)
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Sweep until the ghost's heartbeat is stale and its jobs are handed back.
	for {
		swept, err := fc.SweepDeadWorkers(ctx)
		require.NoError(t, err)
		if len(swept.Dead) > 0 {
			require.Equal(t, []string{"ghost-worker"}, swept.Dead)
			require.Equal(t, 1, swept.Requeued)
			require.Equal(t, 1, swept.Discarded)
			break
		}
		require.True(t, time.Now().Before(deadline), "the ghost was never declared dead")
		time.Sleep(10 * time.Millisecond)
	}
	fams := b.scrape(t)
	require.Equal(t, 1.0, value(t, fams, "quantumflow_dead_workers_total", nil))
	require.Equal(t, 1.0, value(t, fams, "quantumflow_jobs_rescued_total", map[string]string{"outcome": "requeued"}))
	require.Equal(t, 1.0, value(t, fams, "quantumflow_jobs_rescued_total", map[string]string{"outcome": "discarded"}))
}

// mustRiverConfig is client.RiverConfig(cfg), failing the test on an error.
func mustRiverConfig(t testing.TB, client *flow.Client, cfg *river.Config) *river.Config {
	t.Helper()
	out, err := client.RiverConfig(cfg)
	require.NoError(t, err)
	return out
}
