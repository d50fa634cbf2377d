// Package consoletest helps the console's tests: an in-process flow worker
// with a "gate" kind that holds its node running until the test opens the
// gate, and spec helpers. It is for tests only.
package consoletest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/jobs"
)

// Gates holds the gates of the "gate" kind by name. The zero value is ready.
type Gates struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (g *Gates) ch(name string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]chan struct{}{}
	}
	c, ok := g.m[name]
	if !ok {
		c = make(chan struct{})
		g.m[name] = c
	}
	return c
}

// Open lets every node held by the gate name complete (now and later).
func (g *Gates) Open(name string) {
	c := g.ch(name)
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

// OpenAll opens every gate known so far.
func (g *Gates) OpenAll() {
	g.mu.Lock()
	names := make([]string, 0, len(g.m))
	for n := range g.m {
		names = append(names, n)
	}
	g.mu.Unlock()
	for _, n := range names {
		g.Open(n)
	}
}

// GateArgs are the args of the test kind "gate": the node runs until the
// gate Name opens (or its job is cancelled).
type GateArgs struct {
	Name string `json:"name"`
}

// Kind is "gate".
func (GateArgs) Kind() string { return "gate" }

type gateWorker struct {
	river.WorkerDefaults[GateArgs]
	gates *Gates
}

func (w *gateWorker) Work(ctx context.Context, job *river.Job[GateArgs]) error {
	select {
	case <-w.gates.ch(job.Args.Name):
		return flow.SetOutput(ctx, map[string]string{"gate": job.Args.Name})
	case <-ctx.Done():
		return fmt.Errorf("gate %s: %w", job.Args.Name, context.Cause(ctx))
	}
}

// quickRetry retries a failed job after 50ms instead of River's backoff.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(50 * time.Millisecond)
}

// StartWorker starts a River client working the built-in kinds and "gate"
// on pool, stopped (gates opened first) when the test ends.
func StartWorker(t testing.TB, pool *pgxpool.Pool, client *flow.Client, gates *Gates) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	require.NoError(t, jobs.Register(workers))
	river.AddWorker(workers, &gateWorker{gates: gates})
	cfg, err := client.RiverConfig(&river.Config{
		Queues:      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 20}},
		RetryPolicy: quickRetry{},
		Workers:     workers,
	})
	require.NoError(t, err)
	rc, err := river.NewClient(riverpgxv5.New(pool), cfg)
	require.NoError(t, err)
	require.NoError(t, rc.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := rc.StopAndCancel(ctx); err != nil {
			t.Errorf("stop River client: %v", err)
		}
	})
	t.Cleanup(gates.OpenAll) // runs first: no gate blocks the stop
	return rc
}

// Submit parses spec (YAML) and submits it, allowing the "gate" kind.
func Submit(t testing.TB, client *flow.Client, spec string) string {
	t.Helper()
	s, err := dag.ParseBytes([]byte(spec))
	require.NoError(t, err)
	res, err := client.Submit(context.Background(), s, &flow.SubmitOpts{AllowUnknownKinds: true})
	require.NoError(t, err)
	return res.ID
}

// Eventually polls cond every 50ms until it holds, failing the test after
// timeout with msg and the last status of wf (when set).
func Eventually(t testing.TB, client *flow.Client, wf string, timeout time.Duration, msg string, cond func(*flow.WorkflowStatus) bool) *flow.WorkflowStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := client.Status(context.Background(), wf)
		require.NoError(t, err)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %s; workflow %s is %s", msg, timeout, wf, st.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// States maps each node's path to its state.
func States(st *flow.WorkflowStatus) map[string]string {
	out := map[string]string{}
	for _, n := range st.Nodes {
		out[n.ID] = string(n.State)
	}
	return out
}

// Histogram counts st's nodes by state, those under prefix ("" for all;
// "g/" for g's subtree).
func Histogram(st *flow.WorkflowStatus, prefix string) map[string]int {
	out := map[string]int{}
	for _, n := range st.Nodes {
		if len(n.ID) > len(prefix) && n.ID[:len(prefix)] == prefix || prefix == "" {
			out[string(n.State)]++
		}
	}
	return out
}
