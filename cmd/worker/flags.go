package main

import (
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/spf13/pflag"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// Defaults of the worker's flags.
const (
	queuesDefault            = "default=1000"
	metricsAddrDefault       = "127.0.0.1:9464"
	shutdownGraceDefault     = 30 * time.Second
	heartbeatIntervalDefault = time.Second
	deadAfterDefault         = 5 * time.Second
	fetchCooldownDefault     = 2 * time.Millisecond
	fetchPollIntervalDefault = 100 * time.Millisecond
	jobTimeoutDefault        = river.JobTimeoutDefault
	dbMetricsDefault         = dbMetricsAuto

	// metricsOff is the --metrics-addr value that disables the HTTP server.
	metricsOff = "off"

	// Values of --db-metrics: collect the database's figures at scrape time
	// while this worker is River's leader (auto), always (on), or never.
	dbMetricsAuto = "auto"
	dbMetricsOn   = "on"
	dbMetricsOff  = "off"

	// poolConnsCap caps the derived pool size.
	poolConnsCap = 40
	// poolConnsMin is the smallest --pool-max-conns accepted: River's
	// listener keeps one connection for itself.
	poolConnsMin = 4
)

// Connection budget (issue 9; docs/OPERATIONS.md, "Sizing the pool"). A
// worker's connections do not grow with its job concurrency: a running job
// holds none unless its own code uses the database. What holds them is
// River's listener (LISTEN, one for good), one fetch per queue, River's
// completer, QuantumFlow's batched completer (one flush at a time), the
// heartbeat and sweep, the reconciler, readiness pings, River's leader
// election and maintenance, and short statements at a job's start
// (markRunning, a node's Load). Measured on a 30 000-wide workflow: 7 at
// peak with one queue; once idle, 2 for a lone worker and 4 each in a
// fleet of 10 on 2 cores (polls, heartbeats and elections overlap).
const (
	// poolConnsBase + poolConnsPerQueue × queues is the derived
	// --pool-max-conns: the most a worker opens at peak.
	poolConnsBase     = 9
	poolConnsPerQueue = 1
	// poolConnsIdle is what an idle worker keeps open once
	// --pool-idle-timeout has passed: River's listener and the connection
	// its fetch polls and the heartbeat share.
	poolConnsIdle = 4
	// poolIdleTimeoutDefault closes connections idle for that long.
	poolIdleTimeoutDefault = 10 * time.Second
)

// options are the worker's flags as given.
type options struct {
	databaseURL       string
	logFormat         string
	logLevel          string
	queues            string
	metricsAddr       string
	shutdownGrace     time.Duration
	id                string
	heartbeatInterval time.Duration
	deadAfter         time.Duration
	poolMaxConns      int
	fetchCooldown     time.Duration
	fetchPollInterval time.Duration
	jobTimeout        time.Duration
	migrate           bool
	pollOnly          bool
	poolIdleTimeout   time.Duration
	dbMetrics         string
	ingest            bool

	// fromEnv maps a flag name to the environment variable its value came
	// from, for error messages.
	fromEnv map[string]string
}

// queue is one entry of --queues.
type queue struct {
	name       string
	maxWorkers int
}

// config is the validated configuration of a worker run.
type config struct {
	databaseURL       string
	queues            []queue // in the order given
	metricsAddr       string  // empty when off
	shutdownGrace     time.Duration
	id                string
	heartbeatInterval time.Duration
	deadAfter         time.Duration
	poolMaxConns      int32
	fetchCooldown     time.Duration
	fetchPollInterval time.Duration
	jobTimeout        time.Duration
	migrate           bool
	pollOnly          bool
	poolIdleTimeout   time.Duration
	dbMetrics         string // auto, on or off
	// noIngest turns the code ingestion kinds off (--ingest=false); the
	// zero value runs them.
	noIngest bool
}

// addCommonFlags adds the flags that every subcommand takes.
func addCommonFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (libpq form); its search_path selects the schema")
	fs.StringVar(&o.logFormat, "log-format", cliutil.LogAuto, "log format: auto (text on a terminal, JSON otherwise), text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (River's own logs: warn and up, all at debug)")
}

// addRunFlags adds the flags of the worker run.
func addRunFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVar(&o.queues, "queues", queuesDefault, "queues to work and how many jobs of each may run at once: name=N,name=N (N from 1 to 10000)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", metricsAddrDefault, `address serving /metrics, /healthz and /readyz; loopback only unless you name another host (":9464" is every interface); port 0 picks a free port; "off" disables`)
	fs.DurationVar(&o.shutdownGrace, "shutdown-grace", shutdownGraceDefault, "on SIGTERM/SIGINT, how long running jobs may take to finish before their contexts are cancelled and they are handed back to the queue")
	fs.StringVar(&o.id, "id", "", "River client ID, unique in the fleet (default host-pid-random)")
	fs.DurationVar(&o.heartbeatInterval, "heartbeat-interval", heartbeatIntervalDefault, "how often this worker writes its heartbeat and sweeps for dead workers")
	fs.DurationVar(&o.deadAfter, "dead-after", deadAfterDefault, "how long this worker may miss heartbeats before others hand back its running jobs; at least 3 heartbeat intervals")
	fs.IntVar(&o.poolMaxConns, "pool-max-conns", 0, fmt.Sprintf("most database connections this worker opens, River's LISTEN connection included; 0 derives %d + %d per queue (a running job holds none unless its own code uses the database); at least %d", poolConnsBase, poolConnsPerQueue, poolConnsMin))
	fs.DurationVar(&o.fetchCooldown, "fetch-cooldown", fetchCooldownDefault, "least time between two fetches of a queue (River's FetchCooldown); short, so released nodes start at once")
	fs.DurationVar(&o.fetchPollInterval, "fetch-poll-interval", fetchPollIntervalDefault, "fetch at least this often when no insert notification arrives (River's FetchPollInterval)")
	fs.DurationVar(&o.jobTimeout, "job-timeout", jobTimeoutDefault, "River's JobTimeout for jobs whose worker and node set none (0: River's default, 1m); never negative, since River's rescuer never rescues a job without a timeout")
	fs.BoolVar(&o.migrate, "migrate", false, "apply the database migrations before starting (as 'worker migrate' does)")
	fs.BoolVar(&o.pollOnly, "poll-only", false, "never LISTEN: find new jobs by polling every --fetch-poll-interval (River's PollOnly); for PgBouncer in transaction mode, with default_query_exec_mode=exec in the database URL")
	fs.StringVar(&o.dbMetrics, "db-metrics", dbMetricsDefault, "export the database's figures (queue depths, workflows pending and running, fleet members) from /metrics, read at scrape time: auto (only while this worker is River's leader, so one member of the fleet does), on (always) or off")
	fs.DurationVar(&o.poolIdleTimeout, "pool-idle-timeout", poolIdleTimeoutDefault, "close a database connection once it has been idle this long (at least 100ms)")
	fs.BoolVar(&o.ingest, "ingest", true, "run the code ingestion kinds (ingest.*, docs/INGESTION.md); the embedder comes from QF_EMBED_URL, QF_EMBED_MODEL, QF_EMBED_API_KEY (local hashing when QF_EMBED_URL is unset)")
}

// envName is the environment variable read for a flag.
func envName(flag string) string {
	if flag == "database-url" {
		return "DATABASE_URL"
	}
	return "QF_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// annotateEnv appends the environment variable of every flag to its usage.
func annotateEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			f.Usage += " [env " + envName(f.Name) + "]"
		}
	})
}

// applyEnv sets every flag of fs that was not given on the command line from
// its environment variable, when that is set and not empty.
func applyEnv(fs *pflag.FlagSet, getenv func(string) string, o *options) error {
	var firstErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || f.Name == "version" || firstErr != nil {
			return
		}
		name := envName(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			firstErr = usageErr("--%s: %s=%q: %v", f.Name, name, v, err)
			return
		}
		if o.fromEnv == nil {
			o.fromEnv = map[string]string{}
		}
		o.fromEnv[f.Name] = name
	})
	return firstErr
}

// usageErr is an error that exits with cliutil.ExitUsage.
func usageErr(format string, args ...any) error {
	return cliutil.WithCode(cliutil.ExitUsage, fmt.Errorf(format, args...))
}

// flagErr is a usage error about a flag, naming the environment variable
// when its value came from there.
func (o *options) flagErr(flag, format string, args ...any) error {
	name := "--" + flag
	if env, ok := o.fromEnv[flag]; ok {
		name += " (from " + env + ")"
	}
	return usageErr("%s: %s", name, fmt.Sprintf(format, args...))
}

// logLevelValue validates --log-level.
func (o *options) logLevelValue() (slog.Level, error) {
	l, err := cliutil.ParseLevel(o.logLevel)
	if err != nil {
		return 0, o.flagErr("log-level", "%v", err)
	}
	return l, nil
}

// checkLogFormat validates --log-format.
func (o *options) checkLogFormat() error {
	switch o.logFormat {
	case cliutil.LogAuto, cliutil.LogText, cliutil.LogJSON:
		return nil
	}
	return o.flagErr("log-format", "unknown format %q (want auto, text or json)", o.logFormat)
}

// config validates the run flags. newID makes the default --id.
func (o *options) config(newID func() string) (*config, error) {
	c := &config{
		databaseURL:       o.databaseURL,
		shutdownGrace:     o.shutdownGrace,
		id:                o.id,
		heartbeatInterval: o.heartbeatInterval,
		deadAfter:         o.deadAfter,
		fetchCooldown:     o.fetchCooldown,
		fetchPollInterval: o.fetchPollInterval,
		jobTimeout:        o.jobTimeout,
		migrate:           o.migrate,
		pollOnly:          o.pollOnly,
		poolIdleTimeout:   o.poolIdleTimeout,
		dbMetrics:         o.dbMetrics,
		noIngest:          !o.ingest,
	}
	var err error
	if c.queues, err = parseQueues(o.queues); err != nil {
		return nil, o.flagErr("queues", "%v", err)
	}
	if c.metricsAddr, err = parseMetricsAddr(o.metricsAddr); err != nil {
		return nil, o.flagErr("metrics-addr", "%v", err)
	}
	if c.shutdownGrace < 0 {
		return nil, o.flagErr("shutdown-grace", "must not be negative (got %s)", c.shutdownGrace)
	}
	if c.id == "" {
		c.id = newID()
	}
	if err := checkID(c.id); err != nil {
		return nil, o.flagErr("id", "%v", err)
	}
	if c.heartbeatInterval < 10*time.Millisecond {
		return nil, o.flagErr("heartbeat-interval", "must be at least 10ms (got %s)", c.heartbeatInterval)
	}
	if c.deadAfter < 3*c.heartbeatInterval {
		return nil, o.flagErr("dead-after", "must be at least 3 × --heartbeat-interval (%s), so one slow heartbeat is not a death (got %s)",
			c.heartbeatInterval, c.deadAfter)
	}
	switch {
	case o.poolMaxConns == 0:
		c.poolMaxConns = int32(min(poolConnsBase+poolConnsPerQueue*len(c.queues), poolConnsCap))
	case o.poolMaxConns < poolConnsMin || o.poolMaxConns > 10_000:
		return nil, o.flagErr("pool-max-conns", "must be 0 (derived) or from %d to 10000 (got %d)", poolConnsMin, o.poolMaxConns)
	default:
		c.poolMaxConns = int32(o.poolMaxConns)
	}
	if c.fetchCooldown < river.FetchCooldownMin {
		return nil, o.flagErr("fetch-cooldown", "must be at least %s (got %s)", river.FetchCooldownMin, c.fetchCooldown)
	}
	if c.fetchPollInterval < c.fetchCooldown {
		return nil, o.flagErr("fetch-poll-interval", "must not be shorter than --fetch-cooldown (%s) (got %s)", c.fetchCooldown, c.fetchPollInterval)
	}
	if c.poolIdleTimeout < 100*time.Millisecond {
		return nil, o.flagErr("pool-idle-timeout", "must be at least 100ms (got %s)", c.poolIdleTimeout)
	}
	switch c.dbMetrics {
	case dbMetricsAuto, dbMetricsOn, dbMetricsOff:
	default:
		return nil, o.flagErr("db-metrics", "unknown value %q (want auto, on or off)", c.dbMetrics)
	}
	if c.jobTimeout < 0 {
		return nil, o.flagErr("job-timeout", "must not be negative (got %s): River's rescuer never rescues a job that has no timeout", c.jobTimeout)
	}
	return c, nil
}

// queueNameRE is River's rule for queue names, slightly stricter: lower-case
// letters and digits, in groups separated by one underscore or hyphen.
var queueNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[_-][a-z0-9]+)*$`)

// parseQueues parses name=N,name=N.
func parseQueues(s string) ([]queue, error) {
	var out []queue
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, n, ok := strings.Cut(part, "=")
		name, n = strings.TrimSpace(name), strings.TrimSpace(n)
		if !ok {
			return nil, fmt.Errorf("%q: want name=N", part)
		}
		if len(name) > 64 || !queueNameRE.MatchString(name) {
			return nil, fmt.Errorf("queue name %q: want at most 64 lower-case letters and digits, in groups separated by '_' or '-'", name)
		}
		max, err := strconv.Atoi(n)
		if err != nil || max < 1 || max > river.QueueNumWorkersMax {
			return nil, fmt.Errorf("queue %q: N must be a whole number from 1 to %d (got %q)", name, river.QueueNumWorkersMax, n)
		}
		if slices.ContainsFunc(out, func(q queue) bool { return q.name == name }) {
			return nil, fmt.Errorf("queue %q given twice", name)
		}
		out = append(out, queue{name: name, maxWorkers: max})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no queue given (want name=N,...)")
	}
	return out, nil
}

// parseMetricsAddr checks host:port, returning "" for "off".
func parseMetricsAddr(s string) (string, error) {
	if s == metricsOff {
		return "", nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q: want host:port (such as 127.0.0.1:9464) or %q", s, metricsOff)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("%q: port must be a number from 0 to 65535", s)
	}
	return s, nil
}

// checkID checks a River client ID: River allows at most 100 characters,
// and the ID shows in logs and in river_job.attempted_by.
func checkID(id string) error {
	if len(id) > 100 {
		return fmt.Errorf("at most 100 characters (got %d)", len(id))
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%q: no spaces or control characters", id)
		}
	}
	return nil
}

// queueString formats queues as in --queues.
func queueString(qs []queue) string {
	parts := make([]string, len(qs))
	for i, q := range qs {
		parts[i] = fmt.Sprintf("%s=%d", q.name, q.maxWorkers)
	}
	return strings.Join(parts, ",")
}

// defaultID makes the default --id.
func defaultID() string { return flow.NewWorkerID() }

// idleConns is the connection budget of an idle worker: see poolConnsIdle.
func (c *config) idleConns() int { return min(poolConnsIdle, int(c.poolMaxConns)) }
