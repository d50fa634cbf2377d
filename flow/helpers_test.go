package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/jobs"
)

// testBundle is one test's database and flow client.
type testBundle struct {
	db     *pgtest.DB
	client *flow.Client

	// gates holds the gates of the test kind "hold" (see hold_test.go),
	// and failing the keys on which the test kinds "flaky" and
	// "expandflaky" fail (see retry_test.go).
	gates   gateSet
	failing sync.Map
}

// setup gives the test a fresh schema and a flow client on it.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, &flow.Config{})
}

// setupWith is setup with a client configured by cfg (ReconcileGrace
// defaults to 1ms here).
func setupWith(t testing.TB, cfg *flow.Config) *testBundle {
	t.Helper()
	db := pgtest.New(t)
	if cfg.ReconcileGrace == 0 {
		cfg.ReconcileGrace = time.Millisecond
	}
	client, err := flow.NewClient(db.Pool, cfg)
	require.NoError(t, err)
	return &testBundle{db: db, client: client}
}

// ExpandArgs are the args of the test kind "expand": it adds Width echo
// nodes under itself, and when Depth > 1 one more expand node that expands
// again, chained after them.
type ExpandArgs struct {
	Depth int `json:"depth"`
	Width int `json:"width"`
}

func (ExpandArgs) Kind() string { return "expand" }

type expandWorker struct {
	river.WorkerDefaults[ExpandArgs]
}

func (*expandWorker) Work(ctx context.Context, job *river.Job[ExpandArgs]) error {
	var nodes []dag.Node
	var ids []string
	for i := 0; i < job.Args.Width; i++ {
		id := fmt.Sprintf("e%d", i)
		ids = append(ids, id)
		nodes = append(nodes, dag.Node{ID: id, Kind: "echo", Args: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
	}
	if job.Args.Depth > 1 {
		nodes = append(nodes, dag.Node{
			ID: "deeper", Kind: "expand", Deps: ids,
			Args: json.RawMessage(fmt.Sprintf(`{"depth":%d,"width":%d}`, job.Args.Depth-1, job.Args.Width)),
		})
	}
	if err := flow.SetOutput(ctx, map[string]int{"depth": job.Args.Depth}); err != nil {
		return err
	}
	return flow.Expand(ctx, dag.Defaults{}, nodes, true)
}

// startWorker starts a River client working the built-in kinds and the test
// kinds on the bundle's schema, stopped when the test ends.
func (b *testBundle) startWorker(t testing.TB, maxWorkers int) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	require.NoError(t, jobs.Register(workers))
	river.AddWorker(workers, &expandWorker{})
	river.AddWorker(workers, &bigOutputWorker{})
	river.AddWorker(workers, &recorderWorker{})
	river.AddWorker(workers, &bigRecordWorker{})
	river.AddWorker(workers, &holdWorker{gates: &b.gates})
	river.AddWorker(workers, &flakyWorker{failing: &b.failing})
	river.AddWorker(workers, &expandFlakyWorker{failing: &b.failing})
	river.AddWorker(workers, &permanentWorker{})
	cfg := riverConfig(t, b.client, &river.Config{
		Queues:      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		RetryPolicy: quickRetry{},
		Workers:     workers,
	})
	rc, err := river.NewClient(riverpgxv5.New(b.db.Pool), cfg)
	require.NoError(t, err)
	require.NoError(t, rc.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rc.StopAndCancel(ctx); err != nil {
			t.Errorf("stop River client: %v", err)
		}
	})
	// Runs before the stop above: no "hold" job may block it.
	t.Cleanup(b.gates.openAll)
	return rc
}

// riverConfig is client.RiverConfig(cfg), failing the test on an error.
func riverConfig(t testing.TB, client *flow.Client, cfg *river.Config) *river.Config {
	t.Helper()
	out, err := client.RiverConfig(cfg)
	require.NoError(t, err)
	return out
}

// submitYAML parses and submits a spec.
func (b *testBundle) submitYAML(t *testing.T, spec string) string {
	t.Helper()
	s, err := dag.ParseBytes([]byte(spec))
	require.NoError(t, err)
	res, err := b.client.Submit(context.Background(), s, &flow.SubmitOpts{AllowUnknownKinds: true})
	require.NoError(t, err)
	return res.ID
}

// waitFinished polls the workflow's status until it is final, failing the
// test after timeout.
func (b *testBundle) waitFinished(t *testing.T, id string, timeout time.Duration) *flow.WorkflowStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := b.client.Status(context.Background(), id)
		require.NoError(t, err)
		switch st.Status {
		case "completed", "failed", "cancelled":
			return st
		}
		if time.Now().After(deadline) {
			dump, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("workflow %s not finished after %s:\n%s", id, timeout, dump)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nodeStates maps node path to state.
func nodeStates(st *flow.WorkflowStatus) map[string]string {
	out := map[string]string{}
	for _, n := range st.Nodes {
		out[n.ID] = string(n.State)
	}
	return out
}

func nodeByID(t *testing.T, st *flow.WorkflowStatus, id string) flow.NodeStatus {
	t.Helper()
	for _, n := range st.Nodes {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("no node %q in workflow %s", id, st.ID)
	return flow.NodeStatus{}
}

// quickRetry retries failed jobs after 10ms instead of River's exponential
// backoff, so failure tests finish quickly.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(10 * time.Millisecond)
}
