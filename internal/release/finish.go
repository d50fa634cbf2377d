package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/observe"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// ErrOutputTooLarge is returned when a node's output exceeds
// dag.MaxOutputBytes; flow re-exports it.
var ErrOutputTooLarge = errors.New("node output too large")

// CheckOutputSize refuses an output over dag.MaxOutputBytes.
func CheckOutputSize(path string, output []byte) error {
	if len(output) > dag.MaxOutputBytes {
		return fmt.Errorf("%w: %s produced %d bytes (limit %d)", ErrOutputTooLarge, path, len(output), dag.MaxOutputBytes)
	}
	return nil
}

// errorMax bounds the error text stored on a node.
const errorMax = 64 << 10

// Outcome is how one job of a node ended.
type Outcome struct {
	// Node is the job's node; Run its run generation (riverjob.Meta.Run).
	Node riverjob.Ref
	Run  int32
	// State is completed, failed or cancelled.
	State flowtype.NodeState
	// Output is the node's output (completed only); Err the error text.
	Output []byte
	Err    string
	// Attempt, JobID and StartedAt describe the job's last attempt.
	Attempt   int32
	JobID     int64
	StartedAt *time.Time
	// Expansion, for a completed node, is the sub-DAG it added under
	// itself: the node becomes active until the sub-DAG finishes.
	Expansion *Expansion
	// NoSlot is set for a node that holds no concurrency slot although it
	// has a key (CancelNodeTx on a node that was waiting or throttled).
	NoSlot bool
}

// FinishTx records outcomes on their nodes in tx, settles what follows and
// inserts, through rc, the River jobs of the leaves that became ready. A
// node that is no longer enqueued for the outcome's run (it was cancelled,
// or a replayed job finds it already final) is left unchanged, so a replay
// changes nothing. It returns how many nodes it settled and what settling
// did, to report to the Observer after commit.
func FinishTx(ctx context.Context, tx pgx.Tx, rc *river.Client[pgx.Tx], outcomes []Outcome) (int, observe.Stats, error) {
	n := len(outcomes)
	wfs, idxs, runs, states := make([]string, n), make([]int32, n), make([]int32, n), make([]string, n)
	outputs, errs := make([]*string, n), make([]*string, n)
	attempts, children := make([]int32, n), make([]int32, n)
	jobIDs, started := make([]int64, n), make([]*time.Time, n)
	expansions := map[Ref]*Expansion{}
	noSlot := map[Ref]bool{}
	for i, o := range outcomes {
		if o.NoSlot {
			noSlot[o.Node] = true
		}
		wfs[i], idxs[i], runs[i], states[i] = o.Node.WF, o.Node.Idx, o.Run, string(o.State)
		if o.Output != nil {
			s := string(o.Output)
			outputs[i] = &s
		}
		if o.Err != "" {
			s := truncate(o.Err, errorMax)
			errs[i] = &s
		}
		attempts[i], jobIDs[i], started[i] = o.Attempt, o.JobID, o.StartedAt
		if o.State == flowtype.NodeCompleted && o.Expansion != nil {
			children[i] = int32(o.Expansion.sinks)
			expansions[o.Node] = o.Expansion
		}
	}
	rows, err := tx.Query(ctx, sqlFinishNodes, wfs, idxs, runs, states, outputs, errs, attempts, jobIDs, started, children)
	if err != nil {
		return 0, observe.Stats{}, fmt.Errorf("record node outcome: %w", err)
	}
	fin, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (finished, error) {
		var f finished
		var state flowtype.NodeState
		err := row.Scan(&f.WF, &f.Idx, &f.parent, &f.dependents, &f.sink, &state, &f.concKey)
		f.failure = state.IsFailure()
		return f, err
	})
	if err != nil {
		return 0, observe.Stats{}, fmt.Errorf("record node outcome: %w", err)
	}

	e := &engine{tx: tx}
	var final []finished
	var freed Slots
	for _, f := range fin {
		// Every node returned was enqueued for this run: a keyed one held a
		// slot until now, the job having ended (an expanded node's too).
		if f.concKey != nil && !noSlot[f.Ref] {
			if freed == nil {
				freed = Slots{}
			}
			freed[*f.concKey]++
		}
		exp := expansions[f.Ref]
		if exp == nil {
			final = append(final, f)
			continue
		}
		roots, err := applyExpansionTx(ctx, tx, f.WF, f.Idx, exp)
		if err != nil {
			return 0, observe.Stats{}, err
		}
		e.ready = append(e.ready, roots...)
	}
	if err := e.settle(ctx, final); err != nil {
		return 0, observe.Stats{}, err
	}
	if _, err := StartTx(ctx, tx, rc, e.ready, freed); err != nil {
		return 0, observe.Stats{}, err
	}
	return len(fin), e.stats(), nil
}

// sqlFinishNodes records job outcomes on nodes still enqueued for the same
// run. A completed node with an expansion becomes active instead of final,
// with remaining_children set to the expansion's sink count.
const sqlFinishNodes = `
WITH o AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[],
                         $7::int[], $8::bigint[], $9::timestamptz[], $10::int[])
        AS o(workflow_id, idx, run, state, output, error, attempts, job_id, started_at, children)
), upd AS (
    UPDATE qf_node q SET
        state              = CASE WHEN o.children > 0 THEN 'active' ELSE o.state END,
        output             = o.output::jsonb,
        error              = o.error,
        attempts           = q.attempt_base + o.attempts,
        job_id             = o.job_id,
        started_at         = o.started_at,
        finished_at        = CASE WHEN o.children > 0 THEN NULL ELSE now() END,
        remaining_children = o.children,
        failed_children    = 0
    FROM o
    WHERE q.workflow_id = o.workflow_id AND q.idx = o.idx
      AND q.run = o.run AND q.state = 'enqueued'
    RETURNING q.workflow_id, q.idx, q.parent_idx, q.dependents, q.dependents = '{}' OR q.rollup_sink AS sink, q.state, q.conc_key
)
SELECT workflow_id::text, idx, parent_idx, dependents, sink, state, conc_key FROM upd`

// scanFinished reads (workflow_id, idx, parent_idx, dependents, sink,
// state) rows of nodes that just became final.
func scanFinished(row pgx.CollectableRow) (finished, error) {
	var f finished
	var state flowtype.NodeState
	err := row.Scan(&f.WF, &f.Idx, &f.parent, &f.dependents, &f.sink, &state)
	f.failure = state.IsFailure()
	return f, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
