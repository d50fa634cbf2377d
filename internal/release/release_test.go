package release_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// engine is one test's transaction, rolled back at the end: the engine runs
// on it alone, with an insert-only River client that is never started.
type engine struct {
	ctx context.Context
	tx  pgx.Tx
	rc  *river.Client[pgx.Tx]
	wf  string
	idx map[string]int32 // node path -> index
}

func newEngine(t *testing.T, spec string) *engine {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	rc, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{})
	require.NoError(t, err)
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tx.Rollback(ctx)) })

	s, err := dag.ParseBytes([]byte(spec))
	require.NoError(t, err)
	plan, err := dag.Compile(s, nil)
	require.NoError(t, err)
	e := &engine{ctx: ctx, tx: tx, rc: rc, wf: uuid.NewString(), idx: map[string]int32{}}
	_, err = tx.Exec(ctx, `INSERT INTO qf_workflow (id, name, spec_hash, input, node_count, remaining)
VALUES ($1, $2, $3, '{}', $4, $5)`, e.wf, plan.Name, plan.Hash, len(plan.Nodes), plan.SinkCount())
	require.NoError(t, err)
	roots, err := release.CopyNodesTx(ctx, tx, e.wf, plan.Nodes, -1)
	require.NoError(t, err)
	require.NoError(t, riverjob.InsertTx(ctx, rc, tx, roots))
	for _, n := range plan.Nodes {
		e.idx[n.Path] = int32(n.Index)
	}
	return e
}

// finish records outcomes of the given nodes' first run and returns what
// FinishTx said.
func (e *engine) finish(t *testing.T, outcomes map[string]flowtype.NodeState) (int, int, map[flowtype.WorkflowState]int) {
	t.Helper()
	var os []release.Outcome
	for path, state := range outcomes {
		o := release.Outcome{Node: riverjob.Ref{WF: e.wf, Idx: e.idx[path]}, State: state, Attempt: 1}
		if state == flowtype.NodeCompleted {
			o.Output = []byte(`{"from":"` + path + `"}`)
		} else {
			o.Err = "boom"
		}
		os = append(os, o)
	}
	settled, stats, err := release.FinishTx(e.ctx, e.tx, e.rc, os)
	require.NoError(t, err)
	return settled, stats.Released, stats.Finished
}

// states returns every node's stored state and the workflow's status.
func (e *engine) states(t *testing.T) (map[string]flowtype.NodeState, flowtype.WorkflowState) {
	t.Helper()
	rows, err := e.tx.Query(e.ctx, `SELECT path, state FROM qf_node WHERE workflow_id = $1`, e.wf)
	require.NoError(t, err)
	out := map[string]flowtype.NodeState{}
	for rows.Next() {
		var p string
		var s flowtype.NodeState
		require.NoError(t, rows.Scan(&p, &s))
		out[p] = s
	}
	require.NoError(t, rows.Err())
	var status flowtype.WorkflowState
	require.NoError(t, e.tx.QueryRow(e.ctx, `SELECT status FROM qf_workflow WHERE id = $1`, e.wf).Scan(&status))
	return out, status
}

// jobs counts the River jobs inserted for each node path.
func (e *engine) jobs(t *testing.T) map[string]int {
	t.Helper()
	rows, err := e.tx.Query(e.ctx, `SELECT metadata->>'qf_path', count(*) FROM river_job GROUP BY 1`)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var p string
		var n int
		require.NoError(t, rows.Scan(&p, &n))
		out[p] = n
	}
	require.NoError(t, rows.Err())
	return out
}

const diamond = `
name: diamond
nodes:
  - {id: a, kind: noop}
  - id: g
    deps: [a]
    nodes:
      - {id: b, kind: noop}
      - {id: c, kind: noop}
  - {id: d, kind: noop, deps: [g]}
  - {id: e, kind: noop, deps: [a], on_dep_failure: skip}
`

func TestFinishReleasesInOrder(t *testing.T) {
	t.Parallel()
	e := newEngine(t, diamond)
	require.Equal(t, map[string]int{"a": 1}, e.jobs(t))

	settled, released, finished := e.finish(t, map[string]flowtype.NodeState{"a": flowtype.NodeCompleted})
	require.Equal(t, 1, settled)
	require.Equal(t, 3, released, "g's members and e")
	require.Empty(t, finished)
	states, status := e.states(t)
	require.Equal(t, flowtype.NodeActive, states["g"])
	require.Equal(t, flowtype.NodeWaiting, states["d"])
	require.Equal(t, flowtype.WorkflowPending, status, "the engine leaves pending to the middleware")

	// The fan-in: both members finish in one call; d is released once.
	settled, released, _ = e.finish(t, map[string]flowtype.NodeState{"g/b": flowtype.NodeCompleted, "g/c": flowtype.NodeCompleted})
	require.Equal(t, 2, settled)
	require.Equal(t, 1, released)
	states, _ = e.states(t)
	require.Equal(t, flowtype.NodeCompleted, states["g"])
	require.Equal(t, flowtype.NodeEnqueued, states["d"])

	settled, _, finished = e.finish(t, map[string]flowtype.NodeState{"d": flowtype.NodeCompleted, "e": flowtype.NodeCompleted})
	require.Equal(t, 2, settled)
	require.Equal(t, map[flowtype.WorkflowState]int{flowtype.WorkflowCompleted: 1}, finished)
	_, status = e.states(t)
	require.Equal(t, flowtype.WorkflowCompleted, status)
	require.Equal(t, map[string]int{"a": 1, "g/b": 1, "g/c": 1, "d": 1, "e": 1}, e.jobs(t), "one job per leaf")
}

// TestFinishIgnoresReplays: an outcome for a node that is no longer
// enqueued for that run changes nothing.
func TestFinishIgnoresReplays(t *testing.T) {
	t.Parallel()
	e := newEngine(t, diamond)
	e.finish(t, map[string]flowtype.NodeState{"a": flowtype.NodeCompleted})
	before, _ := e.states(t)
	jobsBefore := e.jobs(t)

	settled, released, finished := e.finish(t, map[string]flowtype.NodeState{"a": flowtype.NodeCompleted})
	require.Zero(t, settled)
	require.Zero(t, released)
	require.Empty(t, finished)
	settled, _, _ = e.finish(t, map[string]flowtype.NodeState{"a": flowtype.NodeFailed})
	require.Zero(t, settled, "a failure replayed after the success")
	after, _ := e.states(t)
	require.Equal(t, before, after)
	require.Equal(t, jobsBefore, e.jobs(t))

	// A node whose run moved on (a retry) ignores the old run's job.
	_, err := e.tx.Exec(e.ctx, `UPDATE qf_node SET run = run + 1 WHERE workflow_id = $1 AND path = 'g/b'`, e.wf)
	require.NoError(t, err)
	settled, _, _ = e.finish(t, map[string]flowtype.NodeState{"g/b": flowtype.NodeCompleted})
	require.Zero(t, settled)
}

// TestFinishAppliesPolicies: a failed group member fails its group; d
// (cancel, the default) is cancelled, e (skip) already ran; the workflow
// fails.
func TestFinishAppliesPolicies(t *testing.T) {
	t.Parallel()
	e := newEngine(t, diamond)
	e.finish(t, map[string]flowtype.NodeState{"a": flowtype.NodeCompleted})
	e.finish(t, map[string]flowtype.NodeState{"g/b": flowtype.NodeFailed, "e": flowtype.NodeCompleted})
	states, status := e.states(t)
	require.Equal(t, flowtype.NodeEnqueued, states["g/c"])
	require.Equal(t, flowtype.WorkflowRunning, status, "e, a top-level sink, finished")

	_, released, finished := e.finish(t, map[string]flowtype.NodeState{"g/c": flowtype.NodeCompleted})
	require.Zero(t, released)
	require.Equal(t, map[flowtype.WorkflowState]int{flowtype.WorkflowFailed: 1}, finished)
	states, status = e.states(t)
	require.Equal(t, map[string]flowtype.NodeState{
		"a": flowtype.NodeCompleted, "g": flowtype.NodeFailed, "g/b": flowtype.NodeFailed, "g/c": flowtype.NodeCompleted,
		"d": flowtype.NodeCancelled, "e": flowtype.NodeCompleted,
	}, states)
	require.Equal(t, flowtype.WorkflowFailed, status)

	// A skip: e's dep a fails in a fresh workflow.
	e2 := newEngine(t, diamond)
	e2.finish(t, map[string]flowtype.NodeState{"a": flowtype.NodeFailed})
	states, status = e2.states(t)
	require.Equal(t, flowtype.NodeSkipped, states["e"])
	require.Equal(t, flowtype.NodeCancelled, states["g"])
	require.Equal(t, flowtype.NodeCancelled, states["g/b"], "members of a cancelled group are cancelled with it")
	require.Equal(t, flowtype.NodeCancelled, states["d"])
	require.Equal(t, flowtype.WorkflowFailed, status)
}

// TestFinishExpands: a completed node with an expansion becomes active, its
// sub-DAG's roots are released, and it completes with the sub-DAG.
func TestFinishExpands(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "name: x\nnodes: [{id: x, kind: noop}, {id: y, kind: noop, deps: [x]}]\n")
	exp, err := release.CompileExpansion("x", dag.Defaults{}, []dag.Node{
		{ID: "p", Kind: "noop"}, {ID: "q", Kind: "noop", Deps: []string{"p"}},
	}, nil)
	require.NoError(t, err)
	settled, stats, err := release.FinishTx(e.ctx, e.tx, e.rc, []release.Outcome{{
		Node: riverjob.Ref{WF: e.wf, Idx: e.idx["x"]}, State: flowtype.NodeCompleted, Attempt: 1, Expansion: exp,
	}})
	require.NoError(t, err)
	require.Equal(t, 1, settled)
	require.Equal(t, 1, stats.Released, "p")
	states, _ := e.states(t)
	require.Equal(t, flowtype.NodeActive, states["x"])
	require.Equal(t, flowtype.NodeWaiting, states["y"])
	require.Equal(t, flowtype.NodeEnqueued, states["x/p"])

	// The expansion's nodes were appended after the spec's.
	var p, q int32
	require.NoError(t, e.tx.QueryRow(e.ctx, `SELECT
  (SELECT idx FROM qf_node WHERE workflow_id = $1 AND path = 'x/p'),
  (SELECT idx FROM qf_node WHERE workflow_id = $1 AND path = 'x/q')`, e.wf).Scan(&p, &q))
	e.idx["x/p"], e.idx["x/q"] = p, q
	e.finish(t, map[string]flowtype.NodeState{"x/p": flowtype.NodeCompleted})
	e.finish(t, map[string]flowtype.NodeState{"x/q": flowtype.NodeCompleted})
	states, _ = e.states(t)
	require.Equal(t, flowtype.NodeCompleted, states["x"])
	require.Equal(t, flowtype.NodeEnqueued, states["y"])
}

func TestCheckOutputSize(t *testing.T) {
	t.Parallel()
	require.NoError(t, release.CheckOutputSize("a", make([]byte, dag.MaxOutputBytes)))
	err := release.CheckOutputSize("a", make([]byte, dag.MaxOutputBytes+1))
	require.ErrorIs(t, err, release.ErrOutputTooLarge)
	require.EqualError(t, err, "node output too large: a produced 8388609 bytes (limit 8388608)")
}

func TestLikePrefix(t *testing.T) {
	t.Parallel()
	require.Equal(t, `a\_b\%c\\d`, release.LikePrefix(`a_b%c\d`))
}
