package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

func TestSubmitKnownKinds(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	spec, err := dag.ParseBytes([]byte("name: custom\nnodes: [{id: a, kind: resize-image}, {id: b, kind: noop}]\n"))
	require.NoError(t, err)

	before := pgtest.Counts(t, b.db.Pool)
	_, err = b.client.Submit(ctx, spec, nil)
	require.ErrorIs(t, err, dag.ErrUnknownKind)
	require.Contains(t, err.Error(), "resize-image")
	require.Equal(t, before, pgtest.Counts(t, b.db.Pool))

	// Allowed explicitly.
	res, err := b.client.Submit(ctx, spec, &flow.SubmitOpts{AllowUnknownKinds: true})
	require.NoError(t, err)
	require.Equal(t, 2, res.Nodes)

	// Known once a worker registered it.
	require.NoError(t, b.client.RegisterKinds(ctx, "resize-image"))
	require.NoError(t, b.client.RegisterKinds(ctx, "resize-image")) // idempotent
	_, err = b.client.Submit(ctx, spec, nil)
	require.NoError(t, err)
}

func TestSubmitTxRollsBackWithCaller(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	spec, err := dag.ParseBytes([]byte("name: tx\nnodes: [{id: a, kind: noop}, {id: b, kind: noop, deps: [a]}]\n"))
	require.NoError(t, err)
	before := pgtest.Counts(t, b.db.Pool)

	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	res, err := b.client.SubmitTx(ctx, tx, spec, nil)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	require.Equal(t, before, pgtest.Counts(t, b.db.Pool))

	_, err = b.client.Status(ctx, res.ID)
	require.ErrorIs(t, err, flow.ErrNotFound)
}

func TestSubmitInitialStates(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	id := b.submitYAML(t, `
name: initial
nodes:
  - {id: a, kind: noop}
  - {id: b, kind: noop, deps: [a]}
  - id: g
    nodes:
      - {id: x, kind: noop}
      - {id: y, kind: noop, deps: [x]}
      - id: h
        nodes: [{id: z, kind: noop}]
  - id: late
    deps: [a]
    nodes: [{id: w, kind: noop}]
`)
	st, err := b.client.Status(ctx, id)
	require.NoError(t, err)
	require.EqualValues(t, "pending", st.Status)
	require.Equal(t, map[string]string{
		"a": "available", "b": "waiting",
		"g": "running", "g/x": "available", "g/y": "waiting", "g/h": "running", "g/h/z": "available",
		"late": "waiting", "late/w": "waiting",
	}, nodeStates(st))
	var jobs int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&jobs))
	require.Equal(t, 3, jobs)

	// The JSON shape of `status -o json` (docs/SPEC.md).
	raw, err := json.Marshal(st)
	require.NoError(t, err)
	var shape map[string]any
	require.NoError(t, json.Unmarshal(raw, &shape))
	for _, k := range []string{"id", "name", "status", "created_at", "finished_at", "input", "output", "nodes"} {
		require.Contains(t, shape, k)
	}
	node := shape["nodes"].([]any)[1].(map[string]any)
	for _, k := range []string{"id", "kind", "state", "deps", "job_id", "attempts", "started_at", "finished_at", "output", "error"} {
		require.Contains(t, node, k)
	}
	require.Equal(t, []any{"a"}, node["deps"])
}

// BenchmarkSubmit100k submits a 1 -> 100 000 -> 1 workflow: one COPY of the
// nodes and one River insert of the root job.
func BenchmarkSubmit100k(b *testing.B) {
	const width = 100_000
	ctx := context.Background()
	db := pgtest.New(b)
	client, err := flow.NewClient(db.Pool, nil)
	require.NoError(b, err)
	spec := &dag.Spec{Name: "wide", Nodes: make([]dag.Node, 0, width+2)}
	spec.Nodes = append(spec.Nodes, dag.Node{ID: "root", Kind: "noop"})
	deps := make([]string, width)
	for i := 0; i < width; i++ {
		id := fmt.Sprintf("n%d", i)
		deps[i] = id
		spec.Nodes = append(spec.Nodes, dag.Node{ID: id, Kind: "noop", Deps: []string{"root"}})
	}
	spec.Nodes = append(spec.Nodes, dag.Node{ID: "join", Kind: "noop", Deps: deps})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := client.Submit(ctx, spec, nil)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(width+2)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}
