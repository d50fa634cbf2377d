package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// batchCounter is an Observer that records completion batch sizes.
type batchCounter struct {
	flow.ObserverDefaults
	mu      sync.Mutex
	batches []int
}

func (o *batchCounter) CompletionBatch(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches = append(o.batches, n)
}

func (o *batchCounter) snapshot() (batches, nodes, largest int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, n := range o.batches {
		nodes += n
		largest = max(largest, n)
	}
	return len(o.batches), nodes, largest
}

// BigOutputArgs is the test kind "big": it sets an output over the 8 MiB
// limit, so its completion is refused.
type BigOutputArgs struct{}

func (BigOutputArgs) Kind() string { return "big" }

type bigOutputWorker struct {
	river.WorkerDefaults[BigOutputArgs]
}

func (*bigOutputWorker) Work(ctx context.Context, _ *river.Job[BigOutputArgs]) error {
	return flow.SetOutput(ctx, map[string]string{"blob": strings.Repeat("x", 9<<20)})
}

// TestBatchedCompletion runs a wide fan-out on many workers, with the
// reconciler out of the way: finished nodes share completion transactions
// (fewer batches than nodes), every node is completed once (one River job
// each, one completion each through the batcher, nothing left for the
// reconciler), and the join runs after all of them — one straggler parent
// sleeps, so a join released early would start while it still runs.
func TestBatchedCompletion(t *testing.T) {
	t.Parallel()
	obs := &batchCounter{}
	b := setupWith(t, noReconciler(flow.Config{Observer: obs}))
	b.startWorker(t, 100)

	var spec strings.Builder
	spec.WriteString("name: batch\nnodes:\n  - {id: root, kind: noop}\n")
	var ids []string
	for i := 0; i < 500; i++ {
		kind := "kind: noop"
		if i == 499 { // fetched last: River fetches in id order
			kind = "kind: sleep, args: {ms: 300}"
		}
		fmt.Fprintf(&spec, "  - {id: n%d, %s, deps: [root]}\n", i, kind)
		ids = append(ids, fmt.Sprintf("n%d", i))
	}
	fmt.Fprintf(&spec, "  - {id: join, kind: echo, deps: [%s]}\n", strings.Join(ids, ", "))
	id := b.submitYAML(t, spec.String())
	st := b.waitFinishedOrStalled(t, id, time.Minute)
	require.EqualValues(t, "completed", st.Status)
	for _, n := range st.Nodes {
		require.EqualValues(t, "completed", n.State, n.ID)
		require.Equal(t, 1, n.Attempts, n.ID)
	}
	assertReleasedOnceInOrder(t, b, id)
	assertNothingToReconcile(t, b)

	batches, nodes, largest := obs.snapshot()
	require.Equal(t, 502, nodes, "every node completed through the batcher exactly once")
	require.Less(t, batches, nodes, "no two completions ever shared a transaction")
	t.Logf("502 nodes in %d transactions, largest %d", batches, largest)
}

// TestBatchedCompletionIsolatesRefusals puts nodes whose completion is
// refused (output over the limit) among many good ones: the good ones
// complete, the bad ones fail on their own.
func TestBatchedCompletionIsolatesRefusals(t *testing.T) {
	t.Parallel()
	// The reconciler would also fail those nodes: keep it out of the way
	// to see the middleware do it.
	b := setupWith(t, noReconciler(flow.Config{}))
	b.startWorker(t, 60)
	var spec strings.Builder
	spec.WriteString("name: refuse\nnodes:\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&spec, "  - {id: ok%d, kind: noop}\n", i)
	}
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&spec, "  - {id: big%d, kind: big, max_attempts: 1}\n", i)
	}
	id := b.submitYAML(t, spec.String())
	st := b.waitFinishedOrStalled(t, id, time.Minute)
	require.EqualValues(t, "failed", st.Status)
	for _, n := range st.Nodes {
		if strings.HasPrefix(n.ID, "big") {
			require.EqualValues(t, "failed", n.State, n.ID)
			require.Contains(t, *n.Error, "output too large", n.ID)
		} else {
			require.EqualValues(t, "completed", n.State, n.ID)
		}
	}
	assertReleasedOnceInOrder(t, b, id)
	assertNothingToReconcile(t, b)
}

// TestPerNodeCompletion runs with CompletionBatchMax 1: every node in its
// own transaction, nothing through the batcher.
func TestPerNodeCompletion(t *testing.T) {
	t.Parallel()
	obs := &batchCounter{}
	b := setupWith(t, noReconciler(flow.Config{Observer: obs, CompletionBatchMax: 1}))
	b.startWorker(t, 20)
	id := b.submitYAML(t, "name: single\nnodes:\n  - {id: a, kind: noop}\n  - {id: b, kind: echo, deps: [a]}\n  - {id: c, kind: echo, deps: [a]}\n  - {id: d, kind: echo, deps: [b, c]}\n")
	st := b.waitFinishedOrStalled(t, id, 30*time.Second)
	require.EqualValues(t, "completed", st.Status)
	assertReleasedOnceInOrder(t, b, id)
	assertNothingToReconcile(t, b)
	batches, _, _ := obs.snapshot()
	require.Zero(t, batches)
}

// RecorderArgs are the args of the test kind "recorder": it records its
// output with River's RecordOutput instead of flow.SetOutput.
type RecorderArgs struct {
	N int `json:"n"`
}

func (RecorderArgs) Kind() string { return "recorder" }

type recorderWorker struct {
	river.WorkerDefaults[RecorderArgs]
}

func (*recorderWorker) Work(ctx context.Context, job *river.Job[RecorderArgs]) error {
	return river.RecordOutput(ctx, map[string]int{"recorded": job.Args.N})
}

// TestRecordOutput: outputs recorded with River's RecordOutput are stored
// with their nodes and passed to dependents, on the batched path (many
// nodes at once, mixed with nodes that record nothing) and on the per-node
// path. It also guards the batched path's detection of RecordOutput (see
// outputSpy) against River upgrades.
func TestRecordOutput(t *testing.T) {
	t.Parallel()
	for _, batchMax := range []int{flow.CompletionBatchMaxDefault, 1} {
		t.Run(fmt.Sprintf("batch max %d", batchMax), func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, noReconciler(flow.Config{CompletionBatchMax: batchMax}))
			b.startWorker(t, 50)
			var spec strings.Builder
			spec.WriteString("name: record\nnodes:\n")
			var deps []string
			for i := 0; i < 60; i++ {
				fmt.Fprintf(&spec, "  - {id: r%d, kind: recorder, args: {n: %d}}\n  - {id: p%d, kind: noop}\n", i, i, i)
				deps = append(deps, fmt.Sprintf("r%d", i))
			}
			fmt.Fprintf(&spec, "  - {id: sum, kind: echo, deps: [%s]}\n", strings.Join(deps, ", "))
			id := b.submitYAML(t, spec.String())
			st := b.waitFinishedOrStalled(t, id, time.Minute)
			require.EqualValues(t, "completed", st.Status)
			assertReleasedOnceInOrder(t, b, id)
			assertNothingToReconcile(t, b)
			for i := 0; i < 60; i++ {
				require.JSONEq(t, fmt.Sprintf(`{"recorded": %d}`, i), string(nodeByID(t, st, fmt.Sprintf("r%d", i)).Output))
			}
			var echo struct {
				Deps map[string]map[string]int `json:"deps"`
			}
			require.NoError(t, json.Unmarshal(nodeByID(t, st, "sum").Output, &echo))
			require.Len(t, echo.Deps, 60)
			require.Equal(t, 7, echo.Deps["r7"]["recorded"])
		})
	}
}
