// Package metrics exposes what a QuantumFlow worker process does as
// Prometheus metrics: jobs worked (by kind and outcome) and how long they
// ran, jobs in flight, nodes released, workflows finished, dead workers
// swept, plus the Go runtime and process collectors.
//
// Every metric lives in a registry private to one Metrics value (never the
// global default registry), so a process, or a test, can hold several
// without collisions. Metric names start with quantumflow_ and are a
// contract: docs/OPERATIONS.md lists each one with its type, labels and
// meaning. A name or label is only ever added, never renamed.
//
// A worker wires it up like this:
//
//	m := metrics.New()
//	client, err := flow.NewClient(pool, &flow.Config{Observer: m.Observer()})
//	if err != nil {
//		// handle error
//	}
//	rc, err := river.NewClient(riverpgxv5.New(pool), client.RiverConfig(&river.Config{
//		WorkerMiddleware: []rivertype.WorkerMiddleware{m.Middleware()},
//		// Queues, Workers, ...
//	}))
//	if err != nil {
//		// handle error
//	}
//	http.Handle("/metrics", m.Handler())
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
)

// Outcomes of a worked job, the values of the outcome label of
// quantumflow_jobs_worked_total.
const (
	// OutcomeCompleted: Work returned nil.
	OutcomeCompleted = "completed"
	// OutcomeErrored: Work returned an error; River retries the job or, on
	// its last attempt, discards it.
	OutcomeErrored = "errored"
	// OutcomeCancelled: Work returned river.JobCancel, or the job was
	// cancelled while it ran (its context was cancelled remotely, as a
	// workflow cancel does); River cancels the job without retrying it.
	OutcomeCancelled = "cancelled"
	// OutcomeInterrupted: the River client was stopping, cancelled the
	// job's context, and Work returned the context's error; River makes the
	// job available again at once without counting the attempt.
	OutcomeInterrupted = "interrupted"
	// OutcomeSnoozed: Work returned river.JobSnooze; River runs the job again
	// later.
	OutcomeSnoozed = "snoozed"
	// OutcomePanicked: Work panicked; River recovers the panic and treats it
	// like an error.
	OutcomePanicked = "panicked"
)

// Outcomes of a job handed back from a dead worker, the values of the outcome
// label of quantumflow_jobs_rescued_total.
const (
	// RescueRequeued: the job was made available to run again.
	RescueRequeued = "requeued"
	// RescueDiscarded: the job was discarded because the dead worker was
	// running its last attempt.
	RescueDiscarded = "discarded"
)

var jobOutcomes = []string{OutcomeCompleted, OutcomeErrored, OutcomeCancelled, OutcomeInterrupted, OutcomeSnoozed, OutcomePanicked}

// DurationBuckets are the upper bounds, in seconds, of the buckets of
// quantumflow_job_duration_seconds: from 1 ms to 5 min.
var DurationBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300,
}

// WaitBuckets are the upper bounds, in seconds, of the buckets of
// quantumflow_job_wait_seconds and quantumflow_node_promotion_seconds: from
// 1 ms to 1 h, since a backlog can hold jobs for long.
var WaitBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
}

// WorkflowBuckets are the upper bounds, in seconds, of the buckets of
// quantumflow_workflow_duration_seconds: from 10 ms to 1 day.
var WorkflowBuckets = []float64{
	0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400,
}

// Metrics holds a worker process's metrics and the registry that exposes
// them. Create it with New. It is safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry

	jobsWorked        *prometheus.CounterVec
	jobDuration       *prometheus.HistogramVec
	jobsRunning       *prometheus.GaugeVec
	queueMaxWorkers   *prometheus.GaugeVec
	nodesReleased     prometheus.Counter
	workflowsFinished *prometheus.CounterVec
	deadWorkers       prometheus.Counter
	jobsRescued       *prometheus.CounterVec
	workerInfo        *prometheus.GaugeVec
	completionBatch   prometheus.Histogram
	jobWait           *prometheus.HistogramVec
	nodePromotion     *prometheus.HistogramVec
	workflowDuration  *prometheus.HistogramVec
}

// New returns Metrics registered in a new private registry, together with the
// Go runtime collector (go_*) and the process collector (process_*).
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		jobsWorked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantumflow_jobs_worked_total",
			Help: "River jobs worked by this process, by job kind and outcome (completed, errored, cancelled, interrupted, snoozed, panicked).",
		}, []string{"kind", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "quantumflow_job_duration_seconds",
			Help:    "Time a job's Work took in this process, including the transaction that completes its node, by job kind.",
			Buckets: DurationBuckets,
		}, []string{"kind"}),
		jobsRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "quantumflow_jobs_running",
			Help: "Jobs whose Work is running in this process right now, by queue.",
		}, []string{"queue"}),
		queueMaxWorkers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "quantumflow_queue_max_workers",
			Help: "Jobs this process may run at once from a queue (its --queues setting), by queue.",
		}, []string{"queue"}),
		nodesReleased: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quantumflow_nodes_released_total",
			Help: "Workflow leaves that got a River job because their deps finished or their group started, released by this process.",
		}),
		workflowsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantumflow_workflows_finished_total",
			Help: "Workflows that reached a final status (completed, failed, cancelled) in a transaction run by this process.",
		}, []string{"status"}),
		deadWorkers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quantumflow_dead_workers_total",
			Help: "Worker processes this process declared dead because their heartbeat went stale.",
		}),
		jobsRescued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantumflow_jobs_rescued_total",
			Help: "Running jobs of dead workers that this process handed back, by outcome (requeued, discarded).",
		}, []string{"outcome"}),
		completionBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "quantumflow_completion_batch_nodes",
			Help:    "Nodes completed per committed transaction of the batched completion path in this process.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 .. 1024
		}),
		jobWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "quantumflow_job_wait_seconds",
			Help:    "Time River jobs started by this process waited to start: from scheduled_at (when the job became due) to attempted_at (when it was fetched), by queue; observed at every attempt.",
			Buckets: WaitBuckets,
		}, []string{"queue"}),
		nodePromotion: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "quantumflow_node_promotion_seconds",
			Help:    "Time from a workflow node's release (its River job's created_at: the transaction in which its last dep became final) to its first attempt's start in this process, by queue.",
			Buckets: WaitBuckets,
		}, []string{"queue"}),
		workflowDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "quantumflow_workflow_duration_seconds",
			Help:    "Time workflows that reached a final status in a transaction run by this process took, from their start (their submission when they never started) to their end, by outcome (completed, failed, cancelled).",
			Buckets: WorkflowBuckets,
		}, []string{"outcome"}),
		workerInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "quantumflow_worker_info",
			Help: "Always 1; its labels name this worker process: River client id and version.",
		}, []string{"id", "version"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.jobsWorked,
		m.jobDuration,
		m.jobsRunning,
		m.queueMaxWorkers,
		m.nodesReleased,
		m.workflowsFinished,
		m.deadWorkers,
		m.jobsRescued,
		m.workerInfo,
		m.completionBatch,
		m.jobWait,
		m.nodePromotion,
		m.workflowDuration,
	)
	// The final statuses start at zero, so that rate() over them works
	// before the first workflow finishes.
	for _, s := range flowtype.WorkflowStates() {
		if s.IsFinal() {
			m.workflowsFinished.WithLabelValues(string(s))
			m.workflowDuration.WithLabelValues(string(s))
		}
	}
	m.jobsRescued.WithLabelValues(RescueRequeued)
	m.jobsRescued.WithLabelValues(RescueDiscarded)
	return m
}

// Registry returns the private registry holding the metrics, to register
// more collectors in or to gather from.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler returns an HTTP handler that serves the registry in the Prometheus
// exposition formats (serve it at /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// InitKinds creates the series of quantumflow_jobs_worked_total (every
// outcome) and quantumflow_job_duration_seconds for kinds at zero, so they
// are exported, and rate() works, before the first job of a kind runs. A
// worker calls it with the kinds it registers.
func (m *Metrics) InitKinds(kinds ...string) {
	for _, k := range kinds {
		for _, o := range jobOutcomes {
			m.jobsWorked.WithLabelValues(k, o)
		}
		m.jobDuration.WithLabelValues(k)
	}
}

// SetQueues sets quantumflow_queue_max_workers for each queue to its maximum
// number of concurrent jobs, and creates quantumflow_jobs_running for it at
// zero. Together they give a queue's saturation. It also creates the
// queue's quantumflow_job_wait_seconds and quantumflow_node_promotion_seconds
// at zero.
func (m *Metrics) SetQueues(maxWorkers map[string]int) {
	for q, n := range maxWorkers {
		m.queueMaxWorkers.WithLabelValues(q).Set(float64(n))
		m.jobsRunning.WithLabelValues(q)
		m.jobWait.WithLabelValues(q)
		m.nodePromotion.WithLabelValues(q)
	}
}

// SetWorkerInfo sets quantumflow_worker_info{id, version} to 1, replacing an
// earlier call's labels.
func (m *Metrics) SetWorkerInfo(id, version string) {
	m.workerInfo.Reset()
	m.workerInfo.WithLabelValues(id, version).Set(1)
}

// Middleware returns the River worker middleware that counts every job's
// Work call in quantumflow_jobs_worked_total, times it in
// quantumflow_job_duration_seconds, tracks it in quantumflow_jobs_running and
// records, as it starts, how long the job waited
// (quantumflow_job_wait_seconds) and, for a workflow node's first attempt,
// how long the node took from its release to its start
// (quantumflow_node_promotion_seconds).
// Install it first in river.Config.WorkerMiddleware so that it wraps the
// other middleware (flow's completion transaction included) and sees the
// outcome River sees.
func (m *Metrics) Middleware() rivertype.WorkerMiddleware {
	return &workerMiddleware{m: m}
}

// Observer returns a flow.Observer that feeds quantumflow_nodes_released_total,
// quantumflow_workflows_finished_total, quantumflow_workflow_duration_seconds,
// quantumflow_dead_workers_total and quantumflow_jobs_rescued_total. Set it as
// flow.Config.Observer.
func (m *Metrics) Observer() flow.Observer {
	return &observer{m: m}
}

// observeJob records one finished Work call.
func (m *Metrics) observeJob(kind, outcome string, took time.Duration) {
	m.jobsWorked.WithLabelValues(kind, outcome).Inc()
	m.jobDuration.WithLabelValues(kind).Observe(took.Seconds())
}

// observer implements flow.Observer on Metrics.
type observer struct {
	flow.ObserverDefaults
	m *Metrics
}

func (o *observer) NodesReleased(n int) {
	if n > 0 {
		o.m.nodesReleased.Add(float64(n))
	}
}

func (o *observer) WorkflowsFinished(status flowtype.WorkflowState, n int) {
	if n > 0 {
		o.m.workflowsFinished.WithLabelValues(string(status)).Add(float64(n))
	}
}

func (o *observer) WorkflowDuration(status flowtype.WorkflowState, d time.Duration) {
	o.m.workflowDuration.WithLabelValues(string(status)).Observe(max(d, 0).Seconds())
}

func (o *observer) CompletionBatch(nodes int) {
	o.m.completionBatch.Observe(float64(nodes))
}

func (o *observer) WorkersSwept(dead, requeued, discarded int) {
	if dead > 0 {
		o.m.deadWorkers.Add(float64(dead))
	}
	if requeued > 0 {
		o.m.jobsRescued.WithLabelValues(RescueRequeued).Add(float64(requeued))
	}
	if discarded > 0 {
		o.m.jobsRescued.WithLabelValues(RescueDiscarded).Add(float64(discarded))
	}
}
