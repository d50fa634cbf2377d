// Package noderun is the run step of a node: the River worker middleware
// that wraps each job of a workflow, and Run, what the middleware knows
// about the job it wraps. Run travels in the job's context, so that the
// helpers a worker calls from Work (flow.Input, flow.SetOutput, flow.Expand,
// flow.CompleteNodeTx) find it there.
package noderun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// ErrNotInNode is returned by From outside a job that belongs to a
// workflow; flow re-exports it.
var ErrNotInNode = errors.New("not running inside a workflow node")

// Env is what the run step needs from its process: shared by every job.
type Env struct {
	// Pool is the database.
	Pool *pgxpool.Pool
	// Inserter inserts released jobs (an insert-only River client).
	Inserter *river.Client[pgx.Tx]
	// Logger receives the middleware's logs.
	Logger *slog.Logger
	// Observer, when set, is told what the completions did.
	Observer observe.Observer
	// KnownKinds are accepted by Expand besides the registered kinds.
	KnownKinds []string
	// Completer completes a node whose job succeeded.
	Completer Completer
	// Held is the set of jobs this process runs, reported by its fleet
	// member.
	Held *Held
}

// Completer completes the node of a job that succeeded, with its River job,
// and returns once the transaction that did it committed (or failed).
type Completer interface {
	Complete(jobCtx context.Context, run *Run) error
}

// Run is one job of a node, as the middleware sees it.
type Run struct {
	Env  *Env
	Job  *rivertype.JobRow
	Meta riverjob.Meta

	mu            sync.Mutex
	completedInTx bool
	expansion     *release.Expansion
	output        json.RawMessage
	stats         observe.Stats
	// recordedOutput is set when Work may have used River's RecordOutput
	// (see outputSpy).
	recordedOutput atomic.Bool

	loadOnce sync.Once
	loadErr  error
	input    json.RawMessage
	deps     map[string]json.RawMessage
}

type runKey struct{}

// From returns the Run of the job whose context ctx is, or ErrNotInNode.
func From(ctx context.Context) (*Run, error) {
	run, ok := ctx.Value(runKey{}).(*Run)
	if !ok {
		return nil, ErrNotInNode
	}
	return run, nil
}

// Attempt counts the node's attempts, this one included, across workflow
// retries.
func (r *Run) Attempt() int { return int(r.Meta.Base) + r.Job.Attempt }

// Node names the run's node.
func (r *Run) Node() riverjob.Ref { return riverjob.Ref{WF: r.Meta.Workflow, Idx: r.Meta.Node} }

// SetOutput records v, encoded as JSON, as the node's output (the last call
// wins). It refuses an output over dag.MaxOutputBytes.
func (r *Run) SetOutput(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode output of %s: %w", r.Meta.Path, err)
	}
	if err := release.CheckOutputSize(r.Meta.Path, b); err != nil {
		return err
	}
	r.mu.Lock()
	r.output = b
	r.mu.Unlock()
	return nil
}

// Output returns the output set with SetOutput, or nil.
func (r *Run) Output() json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.output
}

// SetExpansion records the sub-DAG the node adds under itself when it
// completes (the last call wins).
func (r *Run) SetExpansion(e *release.Expansion) {
	r.mu.Lock()
	r.expansion = e
	r.mu.Unlock()
}

// RecordedOutput reports whether Work may have used River's RecordOutput.
func (r *Run) RecordedOutput() bool { return r.recordedOutput.Load() }

// MarkCompleted records that the node was completed in a caller's
// transaction (flow.CompleteNodeTx), with what that did, so the middleware
// only reports it.
func (r *Run) MarkCompleted(stats observe.Stats) {
	r.mu.Lock()
	r.completedInTx, r.stats = true, stats
	r.mu.Unlock()
}

func (r *Run) completed() (bool, observe.Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.completedInTx, r.stats
}

// Completed returns the outcome of a successful job: its output (from
// SetOutput, else recorded, River's RecordOutput) and its expansion.
func (r *Run) Completed(recorded []byte) release.Outcome {
	r.mu.Lock()
	output, exp := r.output, r.expansion
	r.mu.Unlock()
	if output == nil {
		output = recorded
	}
	o := r.Outcome(flowtype.NodeCompleted, "")
	o.Output, o.Expansion = output, exp
	return o
}

// Outcome returns an outcome of the run's job in state with error text msg.
func (r *Run) Outcome(state flowtype.NodeState, msg string) release.Outcome {
	return Outcome(r.Job, r.Meta, state, msg)
}

// Outcome returns the outcome, in state with error text msg, of a job of a
// node (meta), for the services that settle jobs they did not run (the
// sweep, the reconciler).
func Outcome(job *rivertype.JobRow, meta riverjob.Meta, state flowtype.NodeState, msg string) release.Outcome {
	return release.Outcome{
		Node:      riverjob.Ref{WF: meta.Workflow, Idx: meta.Node},
		Run:       meta.Run,
		State:     state,
		Err:       msg,
		Attempt:   int32(job.Attempt),
		JobID:     job.ID,
		StartedAt: job.AttemptedAt,
	}
}

// Load returns the workflow's input and the outputs of the node's completed
// deps, read on first use and cached for the job. Every completed dep is in
// the map, with JSON null when it produced no output, so a node that runs
// despite a failed dep (on_dep_failure: run) can tell "completed without
// output" from "failed"; failed, cancelled and skipped deps are left out.
func (r *Run) Load(ctx context.Context) (json.RawMessage, map[string]json.RawMessage, error) {
	r.loadOnce.Do(func() {
		var deps map[string]json.RawMessage
		r.loadErr = r.Env.Pool.QueryRow(ctx, `
SELECT w.input,
       (SELECT coalesce(jsonb_object_agg(regexp_replace(d.path, '^.*/', ''), d.output), '{}')
        FROM qf_node d
        WHERE d.workflow_id = n.workflow_id AND d.idx = ANY (n.deps)
          AND d.state = 'completed')
FROM qf_workflow w JOIN qf_node n ON n.workflow_id = w.id
WHERE w.id = $1 AND n.idx = $2`, r.Meta.Workflow, r.Meta.Node).Scan(&r.input, &deps)
		if r.loadErr != nil {
			r.loadErr = fmt.Errorf("load input and dep outputs of %s: %w", r.Meta.Path, r.loadErr)
			return
		}
		r.deps = deps
	})
	return r.input, r.deps, r.loadErr
}

// outputSpy is the context a node's Work runs with. It notices when Work
// looks up the map in which River's RecordOutput stores the job's output
// (River keeps it in the job's context; this is the only sign of it that
// River's public API leaves): such a job is completed with
// river.JobCompleteTx, which reads the map. Anything else that looks up a
// map[string]any value only costs the fast path. TestRecordOutput guards
// the assumption against River upgrades.
type outputSpy struct {
	context.Context
	touched *atomic.Bool
}

func (s outputSpy) Value(key any) any {
	v := s.Context.Value(key)
	if _, ok := v.(map[string]any); ok {
		s.touched.Store(true)
	}
	return v
}
