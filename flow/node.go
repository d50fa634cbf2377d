package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/internal/completer"
	"github.com/quantumflow/quantumflow/internal/noderun"
	"github.com/quantumflow/quantumflow/internal/release"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// This file is what a worker calls from inside Work: the node it runs for,
// the workflow's input and its deps' outputs, its own output and expansion,
// and completing itself in its own transaction.

// NodeInfo describes the workflow node a job runs for.
type NodeInfo struct {
	// WorkflowID is the workflow's id.
	WorkflowID string
	// Path is the node's full id, such as "per-region/b".
	Path string
	// Index is the node's index in the workflow.
	Index int
	// Attempt counts this node's attempts, 1 for the first, carrying on
	// across workflow retries (unlike the River job's own Attempt, which
	// restarts with each new job).
	Attempt int
}

// NodeFromContext returns the node a job runs for; ok is false when the job
// is not part of a workflow or the context is not a job's.
func NodeFromContext(ctx context.Context) (info NodeInfo, ok bool) {
	run, err := noderun.From(ctx)
	if err != nil {
		return NodeInfo{}, false
	}
	return NodeInfo{
		WorkflowID: run.Meta.Workflow,
		Path:       run.Meta.Path,
		Index:      int(run.Meta.Node),
		Attempt:    run.Attempt(),
	}, true
}

// Input returns the workflow's input (a JSON object) as seen by the running
// node. It is read from the database on first use and cached for the job.
// Returns ErrNotInNode outside a workflow job.
func Input(ctx context.Context) (json.RawMessage, error) {
	run, err := noderun.From(ctx)
	if err != nil {
		return nil, err
	}
	input, _, err := run.Load(ctx)
	return input, err
}

// DepOutputs returns the outputs of the running node's deps, keyed by dep
// id. Every dep that completed is in the map, with JSON null
// (json.RawMessage("null")) when it produced no output; deps that failed,
// were cancelled or were skipped are left out, so a node that runs despite
// a failed dep (on_dep_failure: run) can tell them apart by the key.
// Returns ErrNotInNode outside a workflow job.
func DepOutputs(ctx context.Context) (map[string]json.RawMessage, error) {
	run, err := noderun.From(ctx)
	if err != nil {
		return nil, err
	}
	_, deps, err := run.Load(ctx)
	return deps, err
}

// SetOutput records v (encoded as JSON) as the running node's output. It is
// stored with the node when the job completes, is passed to dependents, and
// shows in status. The last call wins. River's RecordOutput works too; when
// both are used, SetOutput wins. Returns ErrOutputTooLarge past
// dag.MaxOutputBytes and ErrNotInNode outside a workflow job.
func SetOutput(ctx context.Context, v any) error {
	run, err := noderun.From(ctx)
	if err != nil {
		return err
	}
	return run.SetOutput(v)
}

// Expand adds a sub-DAG under the running node, validated like a submitted
// spec (ids, deps, kinds, limits; paths become "<node path>/<id>"). It takes
// effect when the job succeeds, in the transaction that completes it: the
// node then counts as done only when the whole sub-DAG is done, and its
// dependents wait until then. A later call replaces an earlier one. Kinds are
// checked against the registered and the built-in kinds unless
// allowUnknownKinds is set. Returns a validation error naming the node and
// field, or ErrNotInNode outside a workflow job.
func Expand(ctx context.Context, defaults dag.Defaults, nodes []dag.Node, allowUnknownKinds bool) error {
	run, err := noderun.From(ctx)
	if err != nil {
		return err
	}
	var known func(string) bool
	if !allowUnknownKinds {
		if known, err = release.KnownKinds(ctx, run.Env.Pool, run.Env.KnownKinds); err != nil {
			return fmt.Errorf("expand %s: %w", run.Meta.Path, err)
		}
	}
	exp, err := release.CompileExpansion(run.Meta.Path, defaults, nodes, known)
	if err != nil {
		return err
	}
	run.SetExpansion(exp)
	return nil
}

// CompleteNodeTx completes the running job's River job and its node in the
// caller's transaction: the node's output is stored, and the dependents that
// became ready are released (their jobs inserted) in tx. Use it from a
// worker that writes its own data in the same transaction; the caller
// commits, then returns nil from Work, and the middleware does nothing more.
// If tx is rolled back, nothing happened and the worker should return an
// error so the job is retried.
//
// settled is false when the node was already final (a job handed out again
// after its node was settled, or a node cancelled meanwhile): nothing about
// the node changed, and the caller should roll back its own writes if they
// must happen once.
//
// ctx must be the job's context. Returns ErrNotInNode outside a workflow
// job, and ErrOutputTooLarge for an output over the limit.
func CompleteNodeTx(ctx context.Context, tx pgx.Tx) (settled bool, err error) {
	run, err := noderun.From(ctx)
	if err != nil {
		return false, err
	}
	settled, stats, err := completer.CompleteNodeTx(ctx, tx, run.Env, run)
	if err != nil {
		return false, err
	}
	run.MarkCompleted(stats)
	return settled, nil
}

// JobTimeout returns the timeout of the node a job belongs to, or 0 when the
// job is not part of a workflow or its node sets none (River then applies
// the client's JobTimeout). Return it from a worker's Timeout method so that
// River's own deadline and its rescuer follow the node's timeout:
//
//	func (w *MyWorker) Timeout(job *river.Job[MyArgs]) time.Duration {
//		return flow.JobTimeout(job.JobRow)
//	}
func JobTimeout(job *rivertype.JobRow) time.Duration {
	return riverjob.Timeout(job)
}
