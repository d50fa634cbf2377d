package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/riverqueue/river/rivertype"

	"github.com/quantumflow/quantumflow/dag"
)

// nodeRun is what the middleware knows about the job it wraps. It travels in
// the job's context, so that the helpers below work from inside Work.
type nodeRun struct {
	client *Client
	job    *rivertype.JobRow
	meta   jobMeta

	mu            sync.Mutex
	completedInTx bool
	expansion     *expansion
	output        json.RawMessage
	stats         settleStats // what the completion did, reported after commit
	// recordedOutput is set when Work may have used River's RecordOutput
	// (see outputSpy).
	recordedOutput atomic.Bool

	loadOnce sync.Once
	loadErr  error
	input    json.RawMessage
	deps     map[string]json.RawMessage
}

type nodeRunKey struct{}

func nodeRunFrom(ctx context.Context) (*nodeRun, error) {
	run, ok := ctx.Value(nodeRunKey{}).(*nodeRun)
	if !ok {
		return nil, ErrNotInNode
	}
	return run, nil
}

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
	run, err := nodeRunFrom(ctx)
	if err != nil {
		return NodeInfo{}, false
	}
	return NodeInfo{
		WorkflowID: run.meta.Workflow,
		Path:       run.meta.Path,
		Index:      int(run.meta.Node),
		Attempt:    int(run.meta.Base) + run.job.Attempt,
	}, true
}

// Input returns the workflow's input (a JSON object) as seen by the running
// node. It is read from the database on first use and cached for the job.
func Input(ctx context.Context) (json.RawMessage, error) {
	run, err := nodeRunFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := run.load(ctx); err != nil {
		return nil, err
	}
	return run.input, nil
}

// DepOutputs returns the outputs of the running node's deps, keyed by dep
// id. Deps that failed, were cancelled or skipped are left out, as are deps
// that produced no output.
func DepOutputs(ctx context.Context) (map[string]json.RawMessage, error) {
	run, err := nodeRunFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := run.load(ctx); err != nil {
		return nil, err
	}
	return run.deps, nil
}

func (r *nodeRun) load(ctx context.Context) error {
	r.loadOnce.Do(func() {
		var deps map[string]json.RawMessage
		r.loadErr = r.client.pool.QueryRow(ctx, `
SELECT w.input,
       (SELECT coalesce(jsonb_object_agg(regexp_replace(d.path, '^.*/', ''), d.output), '{}')
        FROM qf_node d
        WHERE d.workflow_id = n.workflow_id AND d.idx = ANY (n.deps)
          AND d.state = 'completed' AND d.output IS NOT NULL)
FROM qf_workflow w JOIN qf_node n ON n.workflow_id = w.id
WHERE w.id = $1 AND n.idx = $2`, r.meta.Workflow, r.meta.Node).Scan(&r.input, &deps)
		if r.loadErr != nil {
			r.loadErr = fmt.Errorf("load input and dep outputs of %s: %w", r.meta.Path, r.loadErr)
			return
		}
		r.deps = deps
	})
	return r.loadErr
}

// SetOutput records v (encoded as JSON) as the running node's output. It is
// stored with the node when the job completes, is passed to dependents, and
// shows in status. The last call wins. River's RecordOutput works too; when
// both are used, SetOutput wins. Returns ErrOutputTooLarge past
// dag.MaxOutputBytes.
func SetOutput(ctx context.Context, v any) error {
	run, err := nodeRunFrom(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode output of %s: %w", run.meta.Path, err)
	}
	if len(b) > dag.MaxOutputBytes {
		return fmt.Errorf("%w: %s produced %d bytes (limit %d)", ErrOutputTooLarge, run.meta.Path, len(b), dag.MaxOutputBytes)
	}
	run.mu.Lock()
	run.output = b
	run.mu.Unlock()
	return nil
}

// Expand adds a sub-DAG under the running node, validated like a submitted
// spec (ids, deps, kinds, limits; paths become "<node path>/<id>"). It takes
// effect when the job succeeds, in the transaction that completes it: the
// node then counts as done only when the whole sub-DAG is done, and its
// dependents wait until then. A later call replaces an earlier one. Kinds are
// checked against the registered and built-in kinds unless allowUnknownKinds
// is set.
func Expand(ctx context.Context, defaults dag.Defaults, nodes []dag.Node, allowUnknownKinds bool) error {
	run, err := nodeRunFrom(ctx)
	if err != nil {
		return err
	}
	exp, err := run.client.compileExpansion(ctx, run.meta, defaults, nodes, allowUnknownKinds)
	if err != nil {
		return err
	}
	run.mu.Lock()
	run.expansion = exp
	run.mu.Unlock()
	return nil
}
