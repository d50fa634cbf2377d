package flow_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/jobs"
	"github.com/quantumflow/quantumflow/migrations"
)

// Example_submit submits a small workflow, works it with one River client
// and prints each node's final state.
func Example_submit() {
	ctx := context.Background()

	// A private schema for the example, unique so that concurrent runs do
	// not collide; an application connects to its own database and runs
	// migrations.Migrate once.
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		panic(err)
	}
	schema := "example_submit_" + hex.EncodeToString(suffix[:])
	conn, err := pgx.Connect(ctx, pgtest.ServerURL())
	if err != nil {
		panic(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		panic(err)
	}
	// Runs after the pool is closed (defers run last-in first-out).
	defer func() {
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			panic(fmt.Sprintf("drop schema %s: %v", schema, err))
		}
	}()
	cfg, err := pgxpool.ParseConfig(pgtest.ServerURL())
	if err != nil {
		panic(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	if _, err := migrations.Migrate(ctx, pool); err != nil {
		panic(err)
	}

	client, err := flow.NewClient(pool, nil)
	if err != nil {
		panic(err)
	}

	// The worker side: built-in kinds plus the node middleware.
	workers := river.NewWorkers()
	if err := jobs.Register(workers); err != nil {
		panic(err)
	}
	riverConfig, err := client.RiverConfig(&river.Config{
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
		Workers: workers,
	})
	if err != nil {
		panic(err)
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), riverConfig)
	if err != nil {
		panic(err)
	}
	if err := rc.Start(ctx); err != nil {
		panic(err)
	}
	defer func() {
		if err := rc.Stop(ctx); err != nil {
			panic(fmt.Sprintf("stop River client: %v", err))
		}
	}()

	spec, err := dag.ParseBytes([]byte(`
name: example
nodes:
  - {id: fetch, kind: echo}
  - id: per-region
    deps: [fetch]
    nodes:
      - {id: eu, kind: noop}
      - {id: us, kind: noop}
  - {id: report, kind: echo, deps: [per-region]}
`))
	if err != nil {
		panic(err)
	}
	res, err := client.Submit(ctx, spec, nil)
	if err != nil {
		panic(err)
	}

	deadline := time.Now().Add(time.Minute)
	for {
		st, err := client.Status(ctx, res.ID)
		if err != nil {
			panic(err)
		}
		if st.Status == "completed" || st.Status == "failed" {
			fmt.Println("workflow:", st.Status)
			for _, n := range st.Nodes {
				fmt.Printf("%-14s %s\n", n.ID, n.State)
			}
			break
		}
		if time.Now().After(deadline) {
			panic(fmt.Sprintf("workflow %s still %s after a minute", res.ID, st.Status))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Output:
	// workflow: completed
	// fetch          completed
	// per-region     completed
	// per-region/eu  completed
	// per-region/us  completed
	// report         completed
}
