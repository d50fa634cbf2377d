// Package flow runs hierarchical task DAGs (package dag) on River and
// PostgreSQL. Every runnable node becomes a River job; the worker that
// finishes a node completes its job and enqueues the nodes that became
// ready in the same transaction, so the database is the only record of a
// workflow's progress and any process may die at any moment without losing
// or duplicating it.
//
// # Submitting
//
// A Client submits specs (Submit, SubmitTx), reports on them (Status, List),
// and cancels (Cancel, CancelTx) and retries (Retry, RetryTx) them. Methods
// ending in Tx run in the caller's transaction, which the caller commits or
// rolls back; the others open and commit their own.
//
//	client, err := flow.NewClient(pool, nil)
//	if err != nil {
//		// handle error
//	}
//	res, err := client.Submit(ctx, spec, nil)
//	if err != nil {
//		// handle error: a *dag.ValidationError, ErrKeyConflict, ...
//	}
//
// # Working
//
// Workers are ordinary River workers: a node's job carries the node's args,
// and its kind is the node's kind. StartWorker runs a fleet member around
// them: it registers the kinds, joins the fleet (a heartbeat, so that other
// members hand back this process's jobs if it dies), and starts River with
// what turns the workers into workflow nodes (RiverConfig): the middleware
// (Middleware) that stores each node's output and releases its dependents
// in the transaction that completes the job, and fetch settings that start
// a released node within milliseconds. Members also take turns running the
// reconciler (Reconcile). From inside Work, a node reads the workflow's
// input (Input) and its deps' outputs (DepOutputs), sets its output
// (SetOutput, or River's RecordOutput), adds a sub-DAG under itself
// (Expand), and may complete itself in its own transaction alongside its
// own writes (CompleteNodeTx).
//
// # Layout
//
// This package is the public API. The work happens in internal packages,
// one per step of a node's life: submit (this package, with
// internal/release copying the nodes), run (internal/noderun, the
// middleware), complete (internal/completer, batched group commit) and
// release (internal/release, the engine that settles finished nodes and
// inserts the jobs of those that became ready), beside the fleet
// (internal/fleet: heartbeats and the dead-worker sweep), the reconciler
// (internal/reconciler), retries (internal/retry) and River's tables
// (internal/riverjob). States are in package flowtype.
//
// # Guarantees
//
// A node is enqueued only when all its deps are final, and is recorded
// final exactly once, however many parents finish at the same instant and
// however often River hands its job out. docs/ARCHITECTURE.md lists the
// statements of the completion transaction and why they are race-free.
package flow
