package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// DBCollectTimeout is the default bound of one database collection.
const DBCollectTimeout = 2 * time.Second

// The River job states the database collector counts: every non-final one.
var queueJobStates = []string{"available", "pending", "retryable", "running", "scheduled"}

// Fleet member states of quantumflow_fleet_members.
const (
	FleetLive = "live"
	FleetDead = "dead"
)

// DB is what the database collector needs of a pool (*pgxpool.Pool).
type DB interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// DBConfig configures the database collector (Metrics.RegisterDB).
type DBConfig struct {
	// DB is the pool the collector queries at scrape time. Required.
	DB DB
	// LeaderID, when set, makes the collector collect only while the River
	// client with this ID holds River's leadership (river_leader), so that
	// one member of a fleet exports the database's figures at a time; the
	// others export none of them. Empty: always collect.
	LeaderID string
	// Queues are exported even when they hold no job (at zero), such as
	// the queues this process works.
	Queues []string
	// Timeout bounds one collection; DBCollectTimeout when zero.
	Timeout time.Duration
	// Logger gets a warning for a failed collection; none when nil.
	Logger *slog.Logger
}

// RegisterDB registers the database collector in m's registry. At every
// scrape it reads, in one read-only transaction bounded by cfg.Timeout, the
// River jobs in non-final states by queue and state with the age of each
// queue's oldest available job (quantumflow_queue_jobs,
// quantumflow_queue_oldest_available_age_seconds), the workflows pending and
// running (quantumflow_workflows) and the fleet's members
// (quantumflow_fleet_members), and sets quantumflow_db_collector_up to 1. A
// collection that fails or times out does not fail the scrape: it exports
// quantumflow_db_collector_up 0 and nothing else of its own, and logs a
// warning.
//
// Every statement reads an index only (docs/OPERATIONS.md lists them and
// their cost): its cost grows with the jobs and workflows not yet final,
// never with the finished ones.
func (m *Metrics) RegisterDB(cfg DBConfig) error {
	if cfg.DB == nil {
		return errors.New("metrics: DBConfig.DB is nil")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DBCollectTimeout
	}
	return m.registry.Register(newDBCollector(cfg))
}

type dbCollector struct {
	cfg DBConfig
	// mu serializes collections: concurrent scrapes wait for each other
	// instead of piling up statements.
	mu sync.Mutex

	queueJobs, oldestAvailable, workflows, fleet, up *prometheus.Desc
}

func newDBCollector(cfg DBConfig) *dbCollector {
	return &dbCollector{
		cfg: cfg,
		queueJobs: prometheus.NewDesc("quantumflow_queue_jobs",
			"River jobs in a non-final state (available, pending, retryable, running, scheduled), by queue and state; read from the database at scrape time by one member of the fleet.",
			[]string{"queue", "state"}, nil),
		oldestAvailable: prometheus.NewDesc("quantumflow_queue_oldest_available_age_seconds",
			"Age of the oldest available River job of a queue (now minus its scheduled_at; 0 when none); read from the database at scrape time by one member of the fleet.",
			[]string{"queue"}, nil),
		workflows: prometheus.NewDesc("quantumflow_workflows",
			"Workflows not yet final, by status (pending, running); read from the database at scrape time by one member of the fleet.",
			[]string{"status"}, nil),
		fleet: prometheus.NewDesc("quantumflow_fleet_members",
			"Rows of qf_worker by state: live (no dead_at) or dead (left or declared dead, kept for a while); read from the database at scrape time by one member of the fleet.",
			[]string{"state"}, nil),
		up: prometheus.NewDesc("quantumflow_db_collector_up",
			"1 when this process's last database collection succeeded, 0 when it failed; absent on processes that do not collect (not River's leader, or --db-metrics=off).",
			nil, nil),
	}
}

// Describe sends nothing: the collector is unchecked, since what it exports
// depends on the database (and on leadership).
func (c *dbCollector) Describe(chan<- *prometheus.Desc) {}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	s, collect, err := c.read(ctx)
	if err != nil {
		if c.cfg.Logger != nil {
			c.cfg.Logger.Warn("database metrics: collection failed", slog.String("error", err.Error()))
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	if !collect {
		return
	}
	for _, q := range s.queues {
		for _, st := range queueJobStates {
			ch <- prometheus.MustNewConstMetric(c.queueJobs, prometheus.GaugeValue, float64(s.jobs[q][st]), q, st)
		}
		ch <- prometheus.MustNewConstMetric(c.oldestAvailable, prometheus.GaugeValue, s.oldest[q], q)
	}
	ch <- prometheus.MustNewConstMetric(c.workflows, prometheus.GaugeValue, float64(s.pending), "pending")
	ch <- prometheus.MustNewConstMetric(c.workflows, prometheus.GaugeValue, float64(s.running), "running")
	ch <- prometheus.MustNewConstMetric(c.fleet, prometheus.GaugeValue, float64(s.live), FleetLive)
	ch <- prometheus.MustNewConstMetric(c.fleet, prometheus.GaugeValue, float64(s.dead), FleetDead)
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
}

// dbSnapshot is one collection.
type dbSnapshot struct {
	queues           []string
	jobs             map[string]map[string]int64
	oldest           map[string]float64
	pending, running int64
	live, dead       int64
}

// The collector's statements, in the order they run. DBQueries lists them
// for the plan test. The transaction first sets, for itself only,
// statement_timeout and enable_seqscan = off: on a small table (qf_worker,
// river_leader) the planner would otherwise pick a sequential scan, and
// with stale statistics it might on a large one too.
const (
	sqlDBSetup = `SELECT set_config('statement_timeout', $1, true), set_config('enable_seqscan', 'off', true)`

	// sqlDBLeader: River's leader, when its leadership has not expired
	// (river_leader's primary key).
	sqlDBLeader = `SELECT leader_id FROM river_leader WHERE name = 'default' AND expires_at > now()`

	// sqlDBQueueJobs: an index-only scan of River's fetch index
	// river_job_prioritized_fetching_index (state, queue, priority,
	// scheduled_at, id) over the non-final states: finished jobs are
	// never read.
	sqlDBQueueJobs = `SELECT queue, state::text, count(*),
       coalesce(extract(epoch FROM greatest(now() - min(scheduled_at), '0'::interval))::float8, 0)
FROM river_job
WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
GROUP BY queue, state`

	// sqlDBWorkflows: an index-only scan of qf_workflow_status_created_idx
	// (status, created_at) over pending and running workflows.
	sqlDBWorkflows = `SELECT
    (SELECT count(*) FROM qf_workflow WHERE status = 'pending'),
    (SELECT count(*) FROM qf_workflow WHERE status = 'running')`

	// sqlDBFleet: index-only scans of qf_worker's two partial indexes
	// (qf_worker_heartbeat_idx WHERE dead_at IS NULL, qf_worker_dead_idx
	// WHERE dead_at IS NOT NULL).
	sqlDBFleet = `SELECT
    (SELECT count(*) FROM qf_worker WHERE dead_at IS NULL),
    (SELECT count(*) FROM qf_worker WHERE dead_at IS NOT NULL)`
)

// DBQueries are the statements the database collector runs at every
// scrape, after sqlDBSetup, for the tests that check their plans.
var DBQueries = map[string]string{
	"leader":     sqlDBLeader,
	"queue_jobs": sqlDBQueueJobs,
	"workflows":  sqlDBWorkflows,
	"fleet":      sqlDBFleet,
}

// DBSetup is the statement that starts the collector's transaction, with
// its one argument (the statement timeout, as PostgreSQL reads it).
func DBSetup(timeout time.Duration) (string, string) {
	return sqlDBSetup, fmt.Sprintf("%dms", max(timeout.Milliseconds(), 1))
}

// read runs the collection in one read-only transaction. collect is false
// when a leader is required and this process is not it.
func (c *dbCollector) read(ctx context.Context) (s dbSnapshot, collect bool, err error) {
	tx, err := c.cfg.DB.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return s, false, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	setup, timeout := DBSetup(c.cfg.Timeout)
	if _, err := tx.Exec(ctx, setup, timeout); err != nil {
		return s, false, fmt.Errorf("set up: %w", err)
	}
	if c.cfg.LeaderID != "" {
		var leader string
		err := tx.QueryRow(ctx, sqlDBLeader).Scan(&leader)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && leader != c.cfg.LeaderID) {
			return s, false, nil
		}
		if err != nil {
			return s, false, fmt.Errorf("river leader: %w", err)
		}
	}

	s.jobs = map[string]map[string]int64{}
	s.oldest = map[string]float64{}
	for _, q := range c.cfg.Queues {
		s.jobs[q] = map[string]int64{}
		s.oldest[q] = 0
	}
	rows, err := tx.Query(ctx, sqlDBQueueJobs)
	if err != nil {
		return s, false, fmt.Errorf("queue jobs: %w", err)
	}
	var queue, state string
	var n int64
	var age float64
	_, err = pgx.ForEachRow(rows, []any{&queue, &state, &n, &age}, func() error {
		if s.jobs[queue] == nil {
			s.jobs[queue] = map[string]int64{}
		}
		s.jobs[queue][state] = n
		if state == "available" {
			s.oldest[queue] = age
		} else if _, ok := s.oldest[queue]; !ok {
			s.oldest[queue] = 0
		}
		return nil
	})
	if err != nil {
		return s, false, fmt.Errorf("queue jobs: %w", err)
	}
	for q := range s.jobs {
		s.queues = append(s.queues, q)
	}
	slices.Sort(s.queues)
	if err := tx.QueryRow(ctx, sqlDBWorkflows).Scan(&s.pending, &s.running); err != nil {
		return s, false, fmt.Errorf("workflows: %w", err)
	}
	if err := tx.QueryRow(ctx, sqlDBFleet).Scan(&s.live, &s.dead); err != nil {
		return s, false, fmt.Errorf("fleet members: %w", err)
	}
	return s, true, nil
}
