// Command quickstart runs one workflow end to end in a single process:
// it migrates the database, starts a River worker with the built-in kinds,
// submits a spec, follows it to the end and prints its status as JSON. It
// exits 0 only when the workflow completed.
//
// It is the engine's smoke test for people; the fleet binaries (cmd/worker,
// cmd/enqueue) are the real interface. Run it through scripts/quickstart.sh,
// which finds or starts PostgreSQL.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/jobs"
	"github.com/quantumflow/quantumflow/migrations"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	specPath := flag.String("spec", "examples/hello.yaml", "workflow spec to run (YAML or JSON)")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	flag.Parse()

	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return errors.New("DATABASE_URL is not set (scripts/quickstart.sh sets it)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	f, err := os.Open(*specPath)
	if err != nil {
		return err
	}
	spec, err := dag.Parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *specPath, err)
	}

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	if _, err := migrations.Migrate(ctx, pool); err != nil {
		return err
	}

	client, err := flow.NewClient(pool, &flow.Config{Logger: logger})
	if err != nil {
		return err
	}
	workers := river.NewWorkers()
	if err := jobs.Register(workers); err != nil {
		return err
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), client.RiverConfig(&river.Config{
		Logger:      logger,
		Queues:      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 20}},
		RetryPolicy: quickRetry{},
		Workers:     workers,
	}))
	if err != nil {
		return err
	}
	if err := rc.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Stop(stopCtx)
	}()

	res, err := client.Submit(ctx, spec, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "submitted %s (%d nodes)\n", res.ID, res.Nodes)
	for {
		st, err := client.Status(ctx, res.ID)
		if err != nil {
			return err
		}
		done := 0
		for _, n := range st.Nodes {
			switch n.State {
			case "completed", "failed", "cancelled", "skipped":
				done++
			}
		}
		fmt.Fprintf(os.Stderr, "%s: %d/%d nodes final\n", st.Status, done, len(st.Nodes))
		switch st.Status {
		case "completed", "failed", "cancelled":
			out, _ := json.MarshalIndent(st, "", "  ")
			fmt.Println(string(out))
			if st.Status != "completed" {
				return fmt.Errorf("workflow %s %s", st.ID, st.Status)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// quickRetry retries a failed attempt after a second, instead of River's
// exponential backoff, so the example's retried node finishes promptly.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Second) }
