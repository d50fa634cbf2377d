package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/internal/release"
)

// SubmitOpts are the optional settings of Submit.
type SubmitOpts struct {
	// AllowUnknownKinds accepts kinds that no worker has registered yet.
	// Without it, a kind that is neither registered (RegisterKinds) nor
	// built in (jobs.Kinds) is a validation error (dag.ErrUnknownKind).
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
	var res *SubmitResult
	err := c.inTx(ctx, "submit", func(tx pgx.Tx) error {
		var err error
		res, err = c.SubmitTx(ctx, tx, spec, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// SubmitTx is Submit in the caller's transaction: the workflow exists (and
// its first jobs can run) only once the caller commits. The registered kinds
// are read through tx too, so kinds registered earlier in tx count.
func (c *Client) SubmitTx(ctx context.Context, tx pgx.Tx, spec *dag.Spec, opts *SubmitOpts) (*SubmitResult, error) {
	if spec == nil {
		return nil, errors.New("submit: spec is nil")
	}
	if opts == nil {
		opts = &SubmitOpts{}
	}
	compileOpts := &dag.CompileOpts{}
	if !opts.AllowUnknownKinds {
		known, err := release.KnownKinds(ctx, tx, c.env.KnownKinds)
		if err != nil {
			return nil, fmt.Errorf("submit %s: %w", spec.Name, err)
		}
		compileOpts.KnownKind = known
	}
	plan, err := dag.Compile(spec, compileOpts)
	if err != nil {
		return nil, err
	}
	res, err := c.submitPlanTx(ctx, tx, plan)
	if _, ok := errors.AsType[*KeyConflictError](err); ok {
		return nil, err // it names the workflow and the key already
	}
	if err != nil {
		return nil, fmt.Errorf("submit %s: %w", plan.Name, err)
	}
	return res, nil
}

func (c *Client) submitPlanTx(ctx context.Context, tx pgx.Tx, plan *dag.Plan) (*SubmitResult, error) {
	id := uuid.NewString()
	var key *string
	if plan.Key != "" {
		key = &plan.Key
	}
	var inserted bool
	err := tx.QueryRow(ctx, `
WITH ins AS (
    INSERT INTO qf_workflow (id, name, key, spec_hash, input, node_count, remaining, deadline_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::bigint > 0 THEN now() + $8::bigint * interval '1 millisecond' END)
    ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING
    RETURNING id
)
SELECT count(*) > 0 FROM ins`,
		id, plan.Name, key, plan.Hash, string(plan.Input), len(plan.Nodes), plan.SinkCount(), plan.Deadline.Milliseconds()).Scan(&inserted)
	if err != nil {
		return nil, fmt.Errorf("insert workflow: %w", err)
	}
	if !inserted {
		// The key is held. ON CONFLICT waited for a concurrent holder to
		// commit, so this read (a new snapshot) sees it.
		var existingID, hash string
		err := tx.QueryRow(ctx, `SELECT id::text, spec_hash FROM qf_workflow WHERE key = $1`, plan.Key).Scan(&existingID, &hash)
		if err != nil {
			return nil, fmt.Errorf("read workflow holding key %q: %w", plan.Key, err)
		}
		if hash != plan.Hash {
			return nil, &KeyConflictError{Key: plan.Key, WorkflowID: existingID}
		}
		return &SubmitResult{ID: existingID, Existing: true}, nil
	}

	roots, err := release.CopyNodesTx(ctx, tx, id, plan.Nodes, -1)
	if err != nil {
		return nil, err
	}
	if _, err := release.StartTx(ctx, tx, c.env.Inserter, roots, nil); err != nil {
		return nil, err
	}
	if plan.Deadline > 0 {
		if err := c.insertDeadlineTx(ctx, tx, id, plan); err != nil {
			return nil, err
		}
	}
	return &SubmitResult{ID: id, Nodes: len(plan.Nodes)}, nil
}

// RegisterKinds records that a worker runs these kinds, so that submitting
// them is accepted. Workers call it when they start (StartWorker does); it
// is idempotent.
func (c *Client) RegisterKinds(ctx context.Context, kinds ...string) error {
	return c.inTx(ctx, "register kinds", func(tx pgx.Tx) error {
		return c.RegisterKindsTx(ctx, tx, kinds...)
	})
}

// RegisterKindsTx is RegisterKinds in the caller's transaction.
func (c *Client) RegisterKindsTx(ctx context.Context, tx pgx.Tx, kinds ...string) error {
	return release.RegisterKindsTx(ctx, tx, kinds)
}
