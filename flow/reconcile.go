package flow

import (
	"context"

	"github.com/quantumflow/quantumflow/internal/reconciler"
)

// ReconcileLookbackDefault is how far back the reconciler looks for
// finalized jobs whose node was never settled.
const ReconcileLookbackDefault = reconciler.LookbackDefault

// ReconcileResult tells what Reconcile repaired.
type ReconcileResult struct {
	// Settled is the number of nodes settled from their finished jobs.
	Settled int
}

// Reconcile repairs what the completion transaction cannot cover: a River
// job that reached a final state without its node being settled. That
// happens when River itself finalizes a job outside the middleware (the
// rescuer discards a job whose worker died on its last attempt, a job is
// cancelled through River's API, a worker panics, a worker completed the job
// with river.JobCompleteTx but not flow.CompleteNodeTx). Such a node is
// settled from its job: completed (with the job's recorded output), failed
// or cancelled, and its dependents released as usual. Jobs finalized within
// Config.ReconcileGrace are left alone: their worker may be committing.
//
// Reconcile is idempotent and safe to run concurrently with workers and with
// itself. Fleet members run it, one member per Config.ReconcileInterval.
func (c *Client) Reconcile(ctx context.Context) (*ReconcileResult, error) {
	settled, err := reconciler.Reconcile(ctx, c.env, c.config.ReconcileGrace)
	if err != nil {
		return nil, err
	}
	return &ReconcileResult{Settled: settled}, nil
}
