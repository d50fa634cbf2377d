// Command customworker is a worker binary with a job kind of its own,
// "shout", beside the built-in kinds. README.md shows this file; the e2e
// tests build and run it.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/jobs"
)

// ShoutArgs are a node's args: {"text": "..."}.
type ShoutArgs struct {
	Text string `json:"text"`
}

// Kind is the name specs use: `kind: shout`.
func (ShoutArgs) Kind() string { return "shout" }

// ShoutWorker upper-cases its text, and its deps' outputs are there too.
type ShoutWorker struct {
	river.WorkerDefaults[ShoutArgs]
}

func (w *ShoutWorker) Work(ctx context.Context, job *river.Job[ShoutArgs]) error {
	deps, err := flow.DepOutputs(ctx) // outputs of this node's deps, by dep id
	if err != nil {
		return err
	}
	return flow.SetOutput(ctx, map[string]any{"text": strings.ToUpper(job.Args.Text), "deps": len(deps)})
}

// Timeout lets the node's own `timeout` govern River's deadline too.
func (w *ShoutWorker) Timeout(job *river.Job[ShoutArgs]) time.Duration {
	return flow.JobTimeout(job.JobRow)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL")) // migrated with `worker migrate`
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	client, err := flow.NewClient(pool, nil)
	if err != nil {
		log.Fatal(err)
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &ShoutWorker{})
	if err := jobs.Register(workers); err != nil { // noop, sleep, fail, echo
		log.Fatal(err)
	}

	// Register the kinds (so specs using them are accepted), join the
	// fleet (if this process dies, others hand back its jobs) and start.
	w, err := client.StartWorker(ctx, &flow.WorkerConfig{
		River: &river.Config{
			Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 50}},
			Workers: workers,
		},
		Kinds: append(jobs.Kinds(), ShoutArgs{}.Kind()),
	})
	if err != nil {
		log.Fatal(err)
	}
	<-ctx.Done() // SIGINT or SIGTERM: finish running jobs, then leave
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Stop(stopCtx); err != nil {
		if err := w.StopAndCancel(context.Background()); err != nil {
			log.Print(err)
		}
	}
}
