package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/metrics"
)

// Test kinds, one per outcome the middleware tells apart.
type (
	okArgs     struct{}
	errorArgs  struct{}
	cancelArgs struct{}
	snoozeArgs struct{}
	panicArgs  struct{}
	blockArgs  struct{}
)

func (okArgs) Kind() string     { return "metrics_ok" }
func (errorArgs) Kind() string  { return "metrics_error" }
func (cancelArgs) Kind() string { return "metrics_cancel" }
func (snoozeArgs) Kind() string { return "metrics_snooze" }
func (panicArgs) Kind() string  { return "metrics_panic" }
func (blockArgs) Kind() string  { return "metrics_block" }

type okWorker struct{ river.WorkerDefaults[okArgs] }

func (*okWorker) Work(context.Context, *river.Job[okArgs]) error { return nil }

type errorWorker struct {
	river.WorkerDefaults[errorArgs]
}

func (*errorWorker) Work(context.Context, *river.Job[errorArgs]) error {
	return errors.New("metrics test: this job fails")
}

type cancelWorker struct {
	river.WorkerDefaults[cancelArgs]
}

func (*cancelWorker) Work(context.Context, *river.Job[cancelArgs]) error {
	return river.JobCancel(errors.New("metrics test: cancelled"))
}

type snoozeWorker struct {
	river.WorkerDefaults[snoozeArgs]
}

func (*snoozeWorker) Work(context.Context, *river.Job[snoozeArgs]) error {
	return river.JobSnooze(time.Hour)
}

type panicWorker struct {
	river.WorkerDefaults[panicArgs]
}

func (*panicWorker) Work(context.Context, *river.Job[panicArgs]) error {
	panic("metrics test: this job panics")
}

// blockWorker's jobs run until release is closed.
type blockWorker struct {
	river.WorkerDefaults[blockArgs]
	release chan struct{}
}

func (w *blockWorker) Work(ctx context.Context, _ *river.Job[blockArgs]) error {
	select {
	case <-w.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

var testKinds = []string{"metrics_ok", "metrics_error", "metrics_cancel", "metrics_snooze", "metrics_panic", "metrics_block"}

type testBundle struct {
	db      *pgtest.DB
	m       *metrics.Metrics
	rc      *river.Client[pgx.Tx]
	release chan struct{}
	server  *httptest.Server
}

// setup starts a River client with the metrics middleware first in
// WorkerMiddleware, working the test kinds on a fresh schema, and serves the
// metrics handler.
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{db: pgtest.New(t), m: metrics.New(), release: make(chan struct{})}
	workers := river.NewWorkers()
	river.AddWorker(workers, &okWorker{})
	river.AddWorker(workers, &errorWorker{})
	river.AddWorker(workers, &cancelWorker{})
	river.AddWorker(workers, &snoozeWorker{})
	river.AddWorker(workers, &panicWorker{})
	river.AddWorker(workers, &blockWorker{release: b.release})
	rc, err := river.NewClient(riverpgxv5.New(b.db.Pool), &river.Config{
		Logger:           discard,
		Queues:           map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
		FetchCooldown:    5 * time.Millisecond,
		TestOnly:         true,
		WorkerMiddleware: []rivertype.WorkerMiddleware{b.m.Middleware()},
		Workers:          workers,
	})
	require.NoError(t, err)
	b.rc = rc
	b.m.SetQueues(map[string]int{river.QueueDefault: 10})
	b.server = httptest.NewServer(b.m.Handler())
	t.Cleanup(b.server.Close)
	return b
}

// start starts the River client, stopped when the test ends.
func (b *testBundle) start(t *testing.T) {
	t.Helper()
	require.NoError(t, b.rc.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, b.rc.StopAndCancel(ctx))
	})
}

// scrape fetches /metrics from the handler and parses the text exposition.
func (b *testBundle) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(b.server.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// sample returns the metric of family name whose labels are exactly labels,
// failing the test when there is none.
func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	m, ok := lookup(fams, name, labels)
	if !ok {
		t.Fatalf("no sample %s%v in the scrape", name, labels)
	}
	return m
}

// lookup finds the metric of family name whose labels are exactly labels.
func lookup(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (*dto.Metric, bool) {
	for _, m := range fams[name].GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			if got[k] != v {
				match = false
			}
		}
		if match {
			return m, true
		}
	}
	return nil, false
}

// has reports whether the scrape holds the counter or gauge name{labels}
// with value want. A scrape is not a snapshot (collectors are read one
// after another), so conditions over several series must all be polled.
func has(fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) bool {
	m, ok := lookup(fams, name, labels)
	return ok && (m.GetCounter().GetValue() == want && m.Counter != nil || m.GetGauge().GetValue() == want && m.Gauge != nil)
}

// value returns a counter's or gauge's value.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := sample(t, fams, name, labels)
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s%v is neither a counter nor a gauge", name, labels)
	return 0
}

// eventually scrapes until cond holds, failing the test after 10 s.
func (b *testBundle) eventually(t *testing.T, what string, cond func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams := b.scrape(t)
		if cond(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last scrape:\n%v", what, fams)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMiddlewareCountsEveryOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.m.InitKinds(testKinds...)

	events, cancelSub := b.rc.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed,
		river.EventKindJobCancelled, river.EventKindJobSnoozed)
	defer cancelSub()
	b.start(t)

	once := &river.InsertOpts{MaxAttempts: 1}
	res, err := b.rc.InsertMany(ctx, []river.InsertManyParams{
		{Args: okArgs{}, InsertOpts: once},
		{Args: errorArgs{}, InsertOpts: once},
		{Args: cancelArgs{}, InsertOpts: once},
		{Args: snoozeArgs{}, InsertOpts: once},
		{Args: panicArgs{}, InsertOpts: once},
	})
	require.NoError(t, err)
	panicJobID := res[4].Job.ID

	// River emits an event after the middleware has returned, so by the
	// time all five arrived every count is in.
	timeout := time.After(10 * time.Second)
	for seen := 0; seen < len(res); seen++ {
		select {
		case <-events:
		case <-timeout:
			t.Fatalf("only %d of %d jobs finished", seen, len(res))
		}
	}

	fams := b.scrape(t)
	worked := func(kind, outcome string) float64 {
		return value(t, fams, "quantumflow_jobs_worked_total", map[string]string{"kind": kind, "outcome": outcome})
	}
	want := map[string]string{
		"metrics_ok":     metrics.OutcomeCompleted,
		"metrics_error":  metrics.OutcomeErrored,
		"metrics_cancel": metrics.OutcomeCancelled,
		"metrics_snooze": metrics.OutcomeSnoozed,
		"metrics_panic":  metrics.OutcomePanicked,
	}
	outcomes := []string{metrics.OutcomeCompleted, metrics.OutcomeErrored, metrics.OutcomeCancelled,
		metrics.OutcomeInterrupted, metrics.OutcomeSnoozed, metrics.OutcomePanicked}
	for kind, outcome := range want {
		for _, o := range outcomes {
			n := 0.0
			if o == outcome {
				n = 1
			}
			require.Equal(t, n, worked(kind, o), "jobs_worked_total{kind=%s,outcome=%s}", kind, o)
		}
		h := sample(t, fams, "quantumflow_job_duration_seconds", map[string]string{"kind": kind}).GetHistogram()
		require.EqualValues(t, 1, h.GetSampleCount(), "duration samples of %s", kind)
		require.Positive(t, h.GetSampleSum(), "duration of %s", kind)
		require.Len(t, h.GetBucket(), len(metrics.DurationBuckets)+1, "the buckets and +Inf")
	}
	// InitKinds exported the kind that never ran, at zero.
	require.Zero(t, worked("metrics_block", metrics.OutcomeCompleted))
	require.EqualValues(t, 0, sample(t, fams, "quantumflow_job_duration_seconds",
		map[string]string{"kind": "metrics_block"}).GetHistogram().GetSampleCount())
	require.Zero(t, value(t, fams, "quantumflow_jobs_running", map[string]string{"queue": "default"}))

	// The panic was not recovered by the middleware: River's recovery saw
	// the original panic, with the worker's frame in its stack trace.
	job, err := b.rc.JobGet(ctx, panicJobID)
	require.NoError(t, err)
	require.EqualValues(t, rivertype.JobStateDiscarded, job.State)
	require.Len(t, job.Errors, 1)
	require.Contains(t, job.Errors[0].Error, "metrics test: this job panics")
	require.Contains(t, job.Errors[0].Trace, "panicWorker")

	// The runtime and process collectors are registered too.
	require.Contains(t, fams, "go_goroutines")
	require.Contains(t, fams, "process_start_time_seconds")
}

func TestMiddlewareTracksRunningJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.start(t)

	fams := b.scrape(t)
	require.Equal(t, 10.0, value(t, fams, "quantumflow_queue_max_workers", map[string]string{"queue": "default"}))
	require.Zero(t, value(t, fams, "quantumflow_jobs_running", map[string]string{"queue": "default"}))

	_, err := b.rc.InsertMany(ctx, []river.InsertManyParams{{Args: blockArgs{}}, {Args: blockArgs{}}})
	require.NoError(t, err)
	b.eventually(t, "two running jobs", func(fams map[string]*dto.MetricFamily) bool {
		return has(fams, "quantumflow_jobs_running", map[string]string{"queue": "default"}, 2)
	})

	close(b.release)
	b.eventually(t, "two completed block jobs and none running", func(fams map[string]*dto.MetricFamily) bool {
		return has(fams, "quantumflow_jobs_worked_total", map[string]string{"kind": "metrics_block", "outcome": metrics.OutcomeCompleted}, 2) &&
			has(fams, "quantumflow_jobs_running", map[string]string{"queue": "default"}, 0)
	})
}

// TestMiddlewareCancelledWhileRunning cancels a running job through River,
// as a workflow cancel does: Work returns its context's error, and River
// cancels the job, so the outcome is cancelled, not errored.
func TestMiddlewareCancelledWhileRunning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.start(t)
	res, err := b.rc.Insert(ctx, blockArgs{}, nil)
	require.NoError(t, err)
	b.eventually(t, "the job to run", func(fams map[string]*dto.MetricFamily) bool {
		return has(fams, "quantumflow_jobs_running", map[string]string{"queue": "default"}, 1)
	})
	_, err = b.rc.JobCancel(ctx, res.Job.ID)
	require.NoError(t, err)
	// Every outcome would show as a series: wait for any, then check it.
	fams := b.eventually(t, "the job to end", func(fams map[string]*dto.MetricFamily) bool {
		return len(fams["quantumflow_jobs_worked_total"].GetMetric()) > 0 &&
			has(fams, "quantumflow_jobs_running", map[string]string{"queue": "default"}, 0)
	})
	require.Equal(t, 1.0, value(t, fams, "quantumflow_jobs_worked_total",
		map[string]string{"kind": "metrics_block", "outcome": metrics.OutcomeCancelled}))
	require.Len(t, fams["quantumflow_jobs_worked_total"].GetMetric(), 1, "no other outcome")
}

// TestMiddlewareInterruptedByStop stops the client while a job runs: River
// cancels the job's context and, since Work returns the context's error,
// makes the job available again without counting the attempt.
func TestMiddlewareInterruptedByStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.start(t)
	res, err := b.rc.Insert(ctx, blockArgs{}, nil)
	require.NoError(t, err)
	b.eventually(t, "the job to run", func(fams map[string]*dto.MetricFamily) bool {
		return has(fams, "quantumflow_jobs_running", map[string]string{"queue": "default"}, 1)
	})
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, b.rc.StopAndCancel(stopCtx))

	fams := b.scrape(t)
	require.Zero(t, value(t, fams, "quantumflow_jobs_running", map[string]string{"queue": "default"}))
	require.Equal(t, 1.0, value(t, fams, "quantumflow_jobs_worked_total",
		map[string]string{"kind": "metrics_block", "outcome": metrics.OutcomeInterrupted}))
	require.Len(t, fams["quantumflow_jobs_worked_total"].GetMetric(), 1, "no other outcome")
	job, err := b.rc.JobGet(ctx, res.Job.ID)
	require.NoError(t, err)
	require.EqualValues(t, rivertype.JobStateAvailable, job.State, "River handed the job back")
	require.Empty(t, job.Errors)
}

func TestObserverFeedsCounters(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	b := &testBundle{m: m, server: srv}

	// Every labelled counter starts at zero.
	fams := b.scrape(t)
	for _, s := range []string{"completed", "failed", "cancelled"} {
		require.Zero(t, value(t, fams, "quantumflow_workflows_finished_total", map[string]string{"status": s}))
	}
	for _, o := range []string{metrics.RescueRequeued, metrics.RescueDiscarded} {
		require.Zero(t, value(t, fams, "quantumflow_jobs_rescued_total", map[string]string{"outcome": o}))
	}
	require.Zero(t, value(t, fams, "quantumflow_nodes_released_total", nil))
	require.Zero(t, value(t, fams, "quantumflow_dead_workers_total", nil))

	obs := m.Observer()
	obs.NodesReleased(3)
	obs.NodesReleased(4)
	obs.WorkflowsFinished("failed", 2)
	obs.WorkflowsFinished("completed", 1)
	obs.WorkersSwept(2, 5, 1)
	obs.WorkersSwept(1, 0, 0)
	m.SetWorkerInfo("old-id", "v0")
	m.SetWorkerInfo("host-1-abc", "v1.2.3")

	fams = b.scrape(t)
	require.Equal(t, 7.0, value(t, fams, "quantumflow_nodes_released_total", nil))
	require.Equal(t, 2.0, value(t, fams, "quantumflow_workflows_finished_total", map[string]string{"status": "failed"}))
	require.Equal(t, 1.0, value(t, fams, "quantumflow_workflows_finished_total", map[string]string{"status": "completed"}))
	require.Zero(t, value(t, fams, "quantumflow_workflows_finished_total", map[string]string{"status": "cancelled"}))
	require.Equal(t, 3.0, value(t, fams, "quantumflow_dead_workers_total", nil))
	require.Equal(t, 5.0, value(t, fams, "quantumflow_jobs_rescued_total", map[string]string{"outcome": "requeued"}))
	require.Equal(t, 1.0, value(t, fams, "quantumflow_jobs_rescued_total", map[string]string{"outcome": "discarded"}))
	require.Equal(t, 1.0, value(t, fams, "quantumflow_worker_info", map[string]string{"id": "host-1-abc", "version": "v1.2.3"}))
	require.Len(t, fams["quantumflow_worker_info"].GetMetric(), 1, "SetWorkerInfo replaces the earlier labels")
}
