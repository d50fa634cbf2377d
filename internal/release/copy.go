package release

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// CopyNodesTx writes nodes with COPY and returns the leaves that start at
// once: those without deps whose parent is rootParent (the workflow, -1, or
// the node being expanded) or a group that starts at once. Their rows are
// written as enqueued, such groups as active, everything else as waiting.
// The caller inserts the returned leaves' jobs (riverjob.InsertTx).
func CopyNodesTx(ctx context.Context, tx pgx.Tx, wf string, nodes []dag.PlanNode, rootParent int) ([]riverjob.Leaf, error) {
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
	var roots []riverjob.Leaf
	rows := make([][]any, len(nodes))
	// The flow-control columns are copied only when some node sets one, so
	// a plain workflow's COPY is unchanged.
	hasFlow := false
	for i := range nodes {
		if nodeHasFlow(&nodes[i]) {
			hasFlow = true
			break
		}
	}
	for i := range nodes {
		n := &nodes[i]
		state := flowtype.NodeWaiting
		if len(n.Deps) == 0 && isStarted(n.Parent) {
			started[i] = true
			state = flowtype.NodeActive
			if !n.IsGroup() {
				state = flowtype.NodeEnqueued
			}
		}
		var (
			kind, queue *string
			args        []byte
			priority    *int16
			maxAttempts *int32
			timeoutMS   *int64
			fl          riverjob.Flow
		)
		if !n.IsGroup() {
			fl = FlowOf(n)
			kind, queue, args = &n.Kind, &n.Queue, n.Args
			p, m := int16(n.Priority), int32(n.MaxAttempts)
			priority, maxAttempts = &p, &m
			if n.Timeout > 0 {
				t := n.Timeout.Milliseconds()
				timeoutMS = &t
			}
			if state == flowtype.NodeEnqueued {
				roots = append(roots, riverjob.Leaf{
					Ref: Ref{WF: wf, Idx: int32(n.Index)}, Path: n.Path, Kind: kind, Args: args,
					Queue: queue, Priority: priority, MaxAttempts: maxAttempts, TimeoutMS: timeoutMS,
				})
				if hasFlow && nodeHasFlow(n) {
					f := fl
					roots[len(roots)-1].Ctl = &f
				}
			}
		}
		var argsText *string
		if args != nil {
			s := string(args)
			argsText = &s
		}
		rows[i] = []any{
			wf, int32(n.Index), int32(n.Parent), n.Path, kind, argsText, toInt32s(n.Deps), toInt32s(n.Dependents),
			queue, priority, maxAttempts, timeoutMS, n.OnDepFailure, int32(len(n.Deps)), int32(n.SinkMembers), string(state),
		}
		if hasFlow {
			var retry *string
			if fl.Retry != nil {
				s := string(fl.Retry)
				retry = &s
			}
			rows[i] = append(rows[i], fl.ConcKey, fl.ConcLimit, fl.RateKey, fl.RateLimit, fl.RatePerMS, fl.DelayMS, fl.NotBefore, retry)
		}
	}
	cols := []string{
		"workflow_id", "idx", "parent_idx", "path", "kind", "args", "deps", "dependents",
		"queue", "priority", "max_attempts", "timeout_ms", "on_dep_failure", "remaining_deps", "remaining_children", "state",
	}
	if hasFlow {
		cols = append(cols, "conc_key", "conc_limit", "rate_key", "rate_limit", "rate_per_ms", "delay_ms", "not_before", "retry")
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"qf_node"}, cols, pgx.CopyFromRows(rows))
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

// Expansion is a validated sub-DAG waiting for its node's job to succeed.
// Its nodes are compiled with indexes relative to 0 and top-level parent -1;
// FinishTx moves them to their place in the workflow.
type Expansion struct {
	nodes []dag.PlanNode
	sinks int
}

// CompileExpansion validates nodes as the sub-DAG of the node at path,
// like a submitted spec (ids, deps, kinds when knownKind is set, limits;
// paths become "<path>/<id>").
func CompileExpansion(path string, defaults dag.Defaults, nodes []dag.Node, knownKind func(string) bool) (*Expansion, error) {
	opts := &dag.CompileOpts{
		BaseDepth:  depth(path) + 1,
		BaseParent: -1,
		BasePath:   path,
		KnownKind:  knownKind,
	}
	plan, err := dag.CompileNodes(nodes, defaults, opts)
	if err != nil {
		return nil, fmt.Errorf("expand %s: %w", path, err)
	}
	return &Expansion{nodes: plan, sinks: dag.SinkCount(plan, -1)}, nil
}

func depth(path string) int {
	n := 0
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			n++
		}
	}
	return n
}

// applyExpansionTx allocates indexes for the expansion's nodes, writes them
// under parent and returns the leaves that start at once.
func applyExpansionTx(ctx context.Context, tx pgx.Tx, wf string, parent int32, exp *Expansion) ([]riverjob.Leaf, error) {
	n := len(exp.nodes)
	var base int
	err := tx.QueryRow(ctx, `
UPDATE qf_workflow SET node_count = node_count + $2 WHERE id = $1
RETURNING node_count - $2`, wf, n).Scan(&base)
	if err != nil {
		return nil, fmt.Errorf("allocate %d nodes for expansion: %w", n, err)
	}
	if base+n > dag.MaxNodes {
		return nil, fmt.Errorf("%w: expansion would bring workflow %s to %d nodes (limit %d)", dag.ErrTooManyNodes, wf, base+n, dag.MaxNodes)
	}
	nodes := make([]dag.PlanNode, n)
	for i, pn := range exp.nodes {
		pn.Index += base
		if pn.Parent == -1 {
			pn.Parent = int(parent)
		} else {
			pn.Parent += base
		}
		pn.Deps = shifted(pn.Deps, base)
		pn.Dependents = shifted(pn.Dependents, base)
		nodes[i] = pn
	}
	return CopyNodesTx(ctx, tx, wf, nodes, int(parent))
}

func shifted(in []int, by int) []int {
	out := slices.Clone(in)
	for i := range out {
		out[i] += by
	}
	return out
}

// FlowOf returns the flow-control settings of a plan node as they are
// stored and carried (zero for a group or a leaf without any).
func FlowOf(n *dag.PlanNode) riverjob.Flow {
	var f riverjob.Flow
	if c := n.Concurrency; c != nil {
		key, lim := c.Key, int32(c.Limit)
		f.ConcKey, f.ConcLimit = &key, &lim
	}
	if r := n.Rate; r != nil {
		key, lim, per := r.Key, int32(r.Limit), max(r.Per.Milliseconds(), 1)
		f.RateKey, f.RateLimit, f.RatePerMS = &key, &lim, &per
	}
	if n.Delay > 0 {
		ms := max(n.Delay.Milliseconds(), 1)
		f.DelayMS = &ms
	}
	if !n.NotBefore.IsZero() {
		t := n.NotBefore
		f.NotBefore = &t
	}
	if r := n.Retry; r != nil {
		f.Retry = riverjob.EncodeRetry(riverjob.RetryPolicy{
			Backoff: r.Backoff, BaseMS: time.Duration(r.Base).Milliseconds(),
			MaxMS: time.Duration(r.Max).Milliseconds(), Jitter: r.Jitter,
		})
	}
	return f
}

// nodeHasFlow reports whether a plan node sets any flow control.
func nodeHasFlow(n *dag.PlanNode) bool {
	return n.Concurrency != nil || n.Rate != nil || n.Retry != nil || n.Delay > 0 || !n.NotBefore.IsZero()
}
