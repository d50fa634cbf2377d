package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
)

// Test kinds that startWorker registers, besides those of helpers_test.go
// and batch_test.go.

// HoldArgs are the args of the test kind "hold": its job blocks until the
// test opens the gate named Key (testBundle.open), ignoring its context, so
// a test decides exactly when a node finishes, and a job can complete after
// River asked it to stop (a cancel).
type HoldArgs struct {
	Key string `json:"key"`
}

func (HoldArgs) Kind() string { return "hold" }

// gateSet is a set of named gates, closed at most once each.
type gateSet struct {
	mu    sync.Mutex
	gates map[string]chan struct{}
}

func (g *gateSet) gate(key string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates == nil {
		g.gates = map[string]chan struct{}{}
	}
	ch, ok := g.gates[key]
	if !ok {
		ch = make(chan struct{})
		g.gates[key] = ch
	}
	return ch
}

// open lets every current and future "hold" job with this key return nil.
func (g *gateSet) open(key string) {
	ch := g.gate(key)
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// openAll opens every gate, so that no job blocks a River client's stop.
func (g *gateSet) openAll() {
	g.mu.Lock()
	keys := make([]string, 0, len(g.gates))
	for k := range g.gates {
		keys = append(keys, k)
	}
	g.mu.Unlock()
	for _, k := range keys {
		g.open(k)
	}
}

type holdWorker struct {
	river.WorkerDefaults[HoldArgs]
	gates *gateSet
}

func (w *holdWorker) Work(_ context.Context, job *river.Job[HoldArgs]) error {
	// Bounded, so that a forgotten gate cannot hang a test's cleanup.
	select {
	case <-w.gates.gate(job.Args.Key):
	case <-time.After(2 * time.Minute):
	}
	return nil
}

// FlakyArgs are the args of the test kind "flaky": it fails while the
// test's failing set holds Key (an empty key never fails), so a test
// decides when a retried node may succeed, whatever its attempt count.
type FlakyArgs struct {
	Key string `json:"key"`
}

func (FlakyArgs) Kind() string { return "flaky" }

type flakyWorker struct {
	river.WorkerDefaults[FlakyArgs]
	failing *sync.Map
}

func (w *flakyWorker) Work(_ context.Context, job *river.Job[FlakyArgs]) error {
	return failIfFlagged(w.failing, job.Args.Key)
}

func failIfFlagged(failing *sync.Map, key string) error {
	if _, ok := failing.Load(key); ok && key != "" {
		return fmt.Errorf("flaky: %s still failing", key)
	}
	return nil
}

// ExpandFlakyArgs are the args of the test kind "expandflaky": it fails
// while Key is flagged; otherwise it expands into ok, bad (flaky with key
// Child, one attempt) and after (depending on bad).
type ExpandFlakyArgs struct {
	Key   string `json:"key"`
	Child string `json:"child"`
}

func (ExpandFlakyArgs) Kind() string { return "expandflaky" }

type expandFlakyWorker struct {
	river.WorkerDefaults[ExpandFlakyArgs]
	failing *sync.Map
}

func (w *expandFlakyWorker) Work(ctx context.Context, job *river.Job[ExpandFlakyArgs]) error {
	if err := failIfFlagged(w.failing, job.Args.Key); err != nil {
		return err
	}
	child, err := json.Marshal(FlakyArgs{Key: job.Args.Child})
	if err != nil {
		return err
	}
	return flow.Expand(ctx, dag.Defaults{}, []dag.Node{
		{ID: "ok", Kind: "echo"},
		{ID: "bad", Kind: "flaky", Args: child, Settings: dag.Settings{MaxAttempts: 1}},
		{ID: "after", Kind: "echo", Deps: []string{"bad"}},
	}, true)
}

// BigRecordArgs are the args of the test kind "bigrecord": it records an
// output over the 8 MiB limit with River's RecordOutput (River's own limit
// is larger), so only the middleware can refuse it.
type BigRecordArgs struct{}

func (BigRecordArgs) Kind() string { return "bigrecord" }

type bigRecordWorker struct {
	river.WorkerDefaults[BigRecordArgs]
}

func (*bigRecordWorker) Work(ctx context.Context, _ *river.Job[BigRecordArgs]) error {
	return river.RecordOutput(ctx, map[string]string{"blob": strings.Repeat("x", dag.MaxOutputBytes+1)})
}
