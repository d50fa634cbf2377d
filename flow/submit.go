package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/dag"
)

// SubmitOpts are the optional settings of Submit.
type SubmitOpts struct {
	// AllowUnknownKinds accepts kinds that no worker has registered yet.
	// Without it, such a kind is a validation error (dag.ErrUnknownKind).
	AllowUnknownKinds bool
}

// SubmitResult tells what Submit did.
type SubmitResult struct {
	// ID is the workflow's id: the new one, or the existing workflow that
	// holds the spec's idempotency key.
	ID string
	// Existing is true when the key was already held by a workflow with the
	// same spec and nothing was written.
	Existing bool
	// Nodes is the number of nodes written (0 when Existing).
	Nodes int
}

// Submit validates spec and writes the workflow, its nodes and the jobs of
// its ready nodes in one transaction. Either everything is written or, on any
// error, nothing is.
//
// Validation errors wrap the dag sentinels (errors.Is(err, dag.ErrCycle))
// and name the node and field. A spec whose key is held by a workflow with
// the same spec returns that workflow with Existing set, whatever its status,
// also when submitted concurrently; with a different spec the error wraps
// ErrKeyConflict and names the workflow.
func (c *Client) Submit(ctx context.Context, spec *dag.Spec, opts *SubmitOpts) (*SubmitResult, error) {
	plan, err := c.compile(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	var res *SubmitResult
	err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		res, err = c.submitPlan(ctx, tx, plan)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// SubmitTx is Submit in the caller's transaction: the workflow exists (and
// its first jobs can run) only once the caller commits.
func (c *Client) SubmitTx(ctx context.Context, tx pgx.Tx, spec *dag.Spec, opts *SubmitOpts) (*SubmitResult, error) {
	plan, err := c.compile(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	return c.submitPlan(ctx, tx, plan)
}

func (c *Client) compile(ctx context.Context, spec *dag.Spec, opts *SubmitOpts) (*dag.Plan, error) {
	if spec == nil {
		return nil, errors.New("submit: spec is nil")
	}
	if opts == nil {
		opts = &SubmitOpts{}
	}
	compileOpts := &dag.CompileOpts{}
	if !opts.AllowUnknownKinds {
		known, err := c.knownKinds(ctx)
		if err != nil {
			return nil, err
		}
		compileOpts.KnownKind = func(kind string) bool { _, ok := known[kind]; return ok }
	}
	plan, err := dag.Compile(spec, compileOpts)
	if err != nil {
		return nil, err
	}
	return plan, nil
}

func (c *Client) submitPlan(ctx context.Context, tx pgx.Tx, plan *dag.Plan) (*SubmitResult, error) {
	id := uuid.NewString()
	var key *string
	if plan.Key != "" {
		key = &plan.Key
	}
	var inserted bool
	err := tx.QueryRow(ctx, `
WITH ins AS (
    INSERT INTO qf_workflow (id, name, key, spec_hash, input, node_count, remaining)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING
    RETURNING id
)
SELECT count(*) > 0 FROM ins`,
		id, plan.Name, key, plan.Hash, string(plan.Input), len(plan.Nodes), plan.SinkCount()).Scan(&inserted)
	if err != nil {
		return nil, fmt.Errorf("submit %s: insert workflow: %w", plan.Name, err)
	}
	if !inserted {
		// The key is held. ON CONFLICT waited for a concurrent holder to
		// commit, so this read (a new snapshot) sees it.
		var existingID, hash string
		err := tx.QueryRow(ctx, `SELECT id::text, spec_hash FROM qf_workflow WHERE key = $1`, plan.Key).Scan(&existingID, &hash)
		if err != nil {
			return nil, fmt.Errorf("submit %s: read workflow holding key %q: %w", plan.Name, plan.Key, err)
		}
		if hash != plan.Hash {
			return nil, &KeyConflictError{Key: plan.Key, WorkflowID: existingID}
		}
		return &SubmitResult{ID: existingID, Existing: true}, nil
	}

	roots, err := copyNodes(ctx, tx, id, plan.Nodes, -1)
	if err != nil {
		return nil, fmt.Errorf("submit %s: %w", plan.Name, err)
	}
	if err := insertJobs(ctx, c.inserter, tx, roots); err != nil {
		return nil, fmt.Errorf("submit %s: %w", plan.Name, err)
	}
	return &SubmitResult{ID: id, Nodes: len(plan.Nodes)}, nil
}

// copyNodes writes nodes with COPY and returns the leaves that start at once:
// those without deps whose parent is rootParent (the workflow, -1, or the
// node being expanded) or a group that starts at once. Their rows are written
// as enqueued, such groups as active, everything else as waiting.
func copyNodes(ctx context.Context, tx pgx.Tx, wf string, nodes []dag.PlanNode, rootParent int) ([]leafRow, error) {
	if len(nodes) == 0 {
		return nil, nil
	}
	base := nodes[0].Index
	started := make([]bool, len(nodes))
	isStarted := func(idx int) bool {
		if idx == rootParent {
			return true
		}
		if idx < base || idx-base >= len(started) {
			return false
		}
		return started[idx-base]
	}
	var roots []leafRow
	rows := make([][]any, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		state := "waiting"
		if len(n.Deps) == 0 && isStarted(n.Parent) {
			started[i] = true
			state = "active"
			if !n.IsGroup() {
				state = "enqueued"
			}
		}
		var (
			kind, queue *string
			args        []byte
			priority    *int16
			maxAttempts *int32
			timeoutMS   *int64
		)
		if !n.IsGroup() {
			kind, queue, args = &n.Kind, &n.Queue, n.Args
			p, m := int16(n.Priority), int32(n.MaxAttempts)
			priority, maxAttempts = &p, &m
			if n.Timeout > 0 {
				t := n.Timeout.Milliseconds()
				timeoutMS = &t
			}
			if state == "enqueued" {
				roots = append(roots, leafRow{
					nodeRef: nodeRef{wf: wf, idx: int32(n.Index)}, path: n.Path, kind: kind, args: args,
					queue: queue, priority: priority, maxAttempts: maxAttempts, timeoutMS: timeoutMS,
				})
			}
		}
		var argsText *string
		if args != nil {
			s := string(args)
			argsText = &s
		}
		rows[i] = []any{
			wf, int32(n.Index), int32(n.Parent), n.Path, kind, argsText, toInt32s(n.Deps), toInt32s(n.Dependents),
			queue, priority, maxAttempts, timeoutMS, n.OnDepFailure, int32(len(n.Deps)), int32(n.SinkMembers), state,
		}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"qf_node"}, []string{
		"workflow_id", "idx", "parent_idx", "path", "kind", "args", "deps", "dependents",
		"queue", "priority", "max_attempts", "timeout_ms", "on_dep_failure", "remaining_deps", "remaining_children", "state",
	}, pgx.CopyFromRows(rows))
	if err != nil {
		return nil, fmt.Errorf("copy %d nodes: %w", len(nodes), err)
	}
	return roots, nil
}

func toInt32s(in []int) []int32 {
	out := make([]int32, len(in))
	for i, v := range in {
		out[i] = int32(v)
	}
	return out
}

// knownKinds returns the built-in kinds and every kind a worker has
// registered.
func (c *Client) knownKinds(ctx context.Context) (map[string]struct{}, error) {
	rows, err := c.pool.Query(ctx, `SELECT kind FROM qf_kind`)
	if err != nil {
		return nil, fmt.Errorf("read registered kinds: %w", err)
	}
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read registered kinds: %w", err)
	}
	out := make(map[string]struct{}, len(kinds)+len(BuiltinKinds))
	for _, k := range append(kinds, BuiltinKinds...) {
		out[k] = struct{}{}
	}
	return out, nil
}

// RegisterKinds records that a worker runs these kinds, so that submitting
// them is accepted. Workers call it when they start; it is idempotent.
func (c *Client) RegisterKinds(ctx context.Context, kinds ...string) error {
	if len(kinds) == 0 {
		return nil
	}
	_, err := c.pool.Exec(ctx, `
INSERT INTO qf_kind (kind) SELECT unnest($1::text[])
ON CONFLICT (kind) DO UPDATE SET last_seen = now()`, kinds)
	if err != nil {
		return fmt.Errorf("register kinds: %w", err)
	}
	return nil
}
