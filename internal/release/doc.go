// Package release is the engine: everything that happens to a workflow's
// nodes inside the transaction that records a job's outcome. FinishTx
// records outcomes on their nodes (only on nodes still enqueued for the
// job's run, so a replayed job changes nothing), applies the expansions of
// nodes that added a sub-DAG, settles what follows (dependents released,
// skipped or cancelled by policy, groups and workflows rolled up), and
// inserts the River jobs of the leaves that became ready. CopyNodesTx writes
// a submitted workflow's (or an expansion's) nodes.
//
// Every function works on the caller's pgx.Tx and does all of its I/O
// through it; nothing here holds a pool, a client or state between calls.
// docs/ARCHITECTURE.md lists the statements and why they are race-free.
package release
