package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/jobs"
	ingestjobs "github.com/quantumflow/quantumflow/jobs/ingest"
	"github.com/quantumflow/quantumflow/metrics"
	"github.com/quantumflow/quantumflow/migrations"
)

// Bounds of the shutdown steps that follow --shutdown-grace.
const (
	// hardStopTimeout is how long jobs whose contexts were cancelled may
	// take to return, so that River records their outcome.
	hardStopTimeout = 5 * time.Second
	// cleanupTimeout bounds leaving the fleet and closing the HTTP server.
	cleanupTimeout = 5 * time.Second
)

// runWorker is the worker run: everything from opening the pool to the
// end of the shutdown. It returns nil after a clean shutdown.
func runWorker(parent context.Context, p *proc, cfg *config, logger *slog.Logger, level slog.Level, format string) error {
	// ctx is cancelled by the first signal (or with parent): the worker
	// stops starting, or shuts down gracefully. Later signals go to more,
	// for stopRiver.
	ctx, stop := context.WithCancelCause(parent)
	defer stop(nil)
	more := make(chan os.Signal, 2)
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		for {
			select {
			case sig := <-p.signals:
				if ctx.Err() == nil {
					stop(signalError{sig})
					continue
				}
				select {
				case more <- sig:
				default:
				}
			case <-returned:
				return
			}
		}
	}()
	fail := func(err error) error {
		if ctx.Err() != nil {
			// Asked to stop while starting: not a failure.
			logger.Info("stopped while starting", slog.String("reason", context.Cause(ctx).Error()))
			return nil
		}
		logger.Error("worker failed", slog.String("error", cliutil.Redact(err.Error())))
		return loggedError{err}
	}
	version := cliutil.ReadBuild().Version()
	db := cliutil.Describe(cfg.databaseURL)
	started := false
	defer func() {
		// Last of all: after River stopped, the fleet was left and the
		// HTTP server and the pool were closed.
		if started {
			logger.Info("worker stopped", slog.String("id", cfg.id))
		}
	}()

	pool, err := openPool(ctx, cfg, logger)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()

	if cfg.migrate {
		res, err := migrations.Migrate(ctx, pool)
		if err != nil {
			return fail(fmt.Errorf("migrate %s: %w", db, err))
		}
		logger.Info("migrated", slog.Any("river", res.River), slog.Any("quantumflow", res.QuantumFlow))
	}
	schema, err := checkSchema(ctx, pool, db)
	if err != nil {
		return fail(err)
	}

	m := metrics.New()
	kinds := jobs.Kinds()
	fc, err := flow.NewClient(pool, &flow.Config{Logger: logger, Observer: m.Observer()})
	if err != nil {
		return fail(err)
	}
	workers := river.NewWorkers()
	if err := jobs.Register(workers); err != nil {
		return fail(err)
	}
	if !cfg.noIngest {
		icfg, err := ingestjobs.ConfigFromEnv()
		if err != nil {
			return fail(err)
		}
		icfg.Pool = pool
		if err := ingestjobs.Register(workers, icfg); err != nil {
			return fail(err)
		}
		kinds = append(kinds, ingestjobs.Kinds()...)
		logger.Info("code ingestion kinds registered", slog.String("embed_model", icfg.Embedder.Model()))
	}
	queues := map[string]river.QueueConfig{}
	maxWorkers := map[string]int{}
	for _, q := range cfg.queues {
		queues[q.name] = river.QueueConfig{MaxWorkers: q.maxWorkers}
		maxWorkers[q.name] = q.maxWorkers
	}
	m.InitKinds(kinds...)
	m.SetQueues(maxWorkers)
	m.SetWorkerInfo(cfg.id, version)

	// The HTTP server, once started, closes after the worker left the fleet.
	var srv *http.Server
	defer func() {
		if srv != nil {
			shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			_ = srv.Shutdown(shutCtx)
		}
	}()
	// StartWorker registers the kinds, joins the fleet and starts River;
	// from then on every way out goes through stopRiver, which leaves the
	// fleet, so a job still marked running under this ID is handed back at
	// once.
	w, err := fc.StartWorker(ctx, &flow.WorkerConfig{
		River: &river.Config{
			ID:                cfg.id,
			Queues:            queues,
			Workers:           workers,
			Logger:            riverLogger(logger, level),
			WorkerMiddleware:  []rivertype.WorkerMiddleware{m.Middleware()},
			FetchCooldown:     cfg.fetchCooldown,
			FetchPollInterval: cfg.fetchPollInterval,
			JobTimeout:        cfg.jobTimeout,
			PollOnly:          cfg.pollOnly,
		},
		Kinds:             kinds,
		HeartbeatInterval: cfg.heartbeatInterval,
		DeadAfter:         cfg.deadAfter,
		Logger:            logger,
	})
	if err != nil {
		return fail(schemaHint(err))
	}
	started = true

	// The database collector: registered unless --db-metrics=off; with
	// auto it collects only while this worker is River's leader (River's
	// elector writes river.Config.ID into river_leader), so one member of
	// the fleet exports the database's figures at a time.
	if cfg.dbMetrics != dbMetricsOff {
		dbc := metrics.DBConfig{DB: pool, Queues: queueNames(cfg.queues), Logger: logger}
		if cfg.dbMetrics == dbMetricsAuto {
			dbc.LeaderID = cfg.id
		}
		if err := m.RegisterDB(dbc); err != nil {
			stopRiver(w, nil, 0, logger)
			return fail(err)
		}
	}

	h := &health{ping: pool.Ping, lastHeartbeat: w.LastHeartbeat, deadAfter: cfg.deadAfter, now: time.Now}
	serveErr := make(chan error, 1)
	if cfg.metricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			stopRiver(w, nil, 0, logger)
			return fail(fmt.Errorf("--metrics-addr: %w", err))
		}
		srv = &http.Server{Handler: h.handler(m.Handler()), ReadHeaderTimeout: 5 * time.Second}
		go func() { serveErr <- srv.Serve(ln) }()
		logger.Info("listening", slog.String("addr", ln.Addr().String()))
		if !isLoopback(ln.Addr()) {
			logger.Warn("metrics and health endpoints are reachable beyond this host", slog.String("addr", ln.Addr().String()))
		}
	}

	h.started(w.Stopped())
	logger.Info("worker started",
		slog.String("id", cfg.id),
		slog.String("queues", queueString(cfg.queues)),
		slog.String("database", db),
		slog.String("schema", schema),
		slog.String("metrics_addr", cmpOff(cfg.metricsAddr)),
		slog.Int("pool_max_conns", int(cfg.poolMaxConns)),
		slog.Int("pool_idle_conns", cfg.idleConns()),
		slog.String("version", version),
		slog.String("log_format", format),
		slog.Bool("poll_only", cfg.pollOnly),
		slog.String("db_metrics", cfg.dbMetrics),
	)

	var fatal error
	select {
	case <-ctx.Done():
		if sig, ok := errors.AsType[signalError](context.Cause(ctx)); ok {
			logger.Info("signal received; shutting down", slog.String("signal", sig.sig.String()), slog.Duration("grace", cfg.shutdownGrace))
		} else {
			logger.Info("shutting down", slog.String("reason", context.Cause(ctx).Error()), slog.Duration("grace", cfg.shutdownGrace))
		}
	case <-w.Stopped():
		fatal = errors.New("river client stopped unexpectedly")
	case err := <-serveErr:
		fatal = fmt.Errorf("metrics server: %w", err)
	}
	h.stopping()
	if fatal != nil {
		logger.Error("worker failed", slog.String("error", cliutil.Redact(fatal.Error())))
	}
	stopRiver(w, more, cfg.shutdownGrace, logger)
	if fatal != nil {
		return loggedError{fatal}
	}
	return nil
}

// signalError is the cause of the run's context after a signal.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "signal " + e.sig.String() }

// stopRiver stops the River client: it stops fetching and lets running jobs
// finish for up to grace; then (or at the next signal) it cancels their
// contexts and waits up to hardStopTimeout for them to return (or until one
// more signal). A job that returns its context's error is made available
// again by River at once, without counting the attempt; one that returns
// another error has failed an attempt and is retried as usual.
func stopRiver(w *flow.Worker, signals <-chan os.Signal, grace time.Duration, logger *slog.Logger) {
	graceCtx, cancelGrace := context.WithTimeout(context.Background(), grace)
	defer cancelGrace()
	hardCtx, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for _, cancel := range []context.CancelFunc{cancelGrace, cancelHard} {
			select {
			case sig := <-signals:
				logger.Warn("another signal; not waiting any longer", slog.String("signal", sig.String()))
				cancel()
			case <-done:
				return
			}
		}
	}()

	err := w.Stop(graceCtx)
	if err == nil {
		return
	}
	if graceCtx.Err() == nil {
		logger.Error("leaving the fleet failed; other workers hand back this worker's jobs once its heartbeat is stale",
			slog.String("error", cliutil.Redact(err.Error())))
		return
	}
	logger.Warn("running jobs did not finish within the shutdown grace; cancelling them")
	stopCtx, cancel := context.WithTimeout(hardCtx, hardStopTimeout)
	defer cancel()
	if err := w.StopAndCancel(stopCtx); err != nil {
		logger.Error("jobs still running after their contexts were cancelled, or leaving the fleet failed; other workers hand them back",
			slog.Duration("waited", hardStopTimeout), slog.String("error", cliutil.Redact(err.Error())))
	}
}

// riverLogger is the logger River's client gets: the worker's, from warn up,
// unless the worker logs at debug.
func riverLogger(logger *slog.Logger, level slog.Level) *slog.Logger {
	l := logger.With(slog.String("component", "river"))
	if level <= slog.LevelDebug {
		return l
	}
	return slog.New(minLevel{Handler: l.Handler(), min: max(level, slog.LevelWarn)})
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}

// queueNames lists the names of qs.
func queueNames(qs []queue) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.name
	}
	return out
}

// isLoopback reports whether addr is a loopback address.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func cmpOff(addr string) string {
	if addr == "" {
		return metricsOff
	}
	return addr
}
