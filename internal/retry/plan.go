// Package retry plans and applies a workflow retry: which nodes run again,
// with which counters, so that the release engine finishes the workflow as
// if the reset nodes were a fresh workflow whose other nodes had already
// completed. Plan is pure; LoadGraphTx and ApplyTx do the I/O, in the
// caller's transaction.
package retry

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/release"
)

// Graph is a workflow's node structure and states, loaded for a retry.
type Graph struct {
	nodes []Node
	pos   map[int32]int
}

// Node is one node of a Graph.
type Node struct {
	idx, parent      int32
	path             string
	kind             *string
	deps, dependents []int32
	state            flowtype.NodeState
	members          []int32
}

// LoadGraphTx reads the workflow's nodes, locking them, in tx.
func LoadGraphTx(ctx context.Context, tx pgx.Tx, id string) (*Graph, error) {
	rows, err := tx.Query(ctx, `
SELECT idx, parent_idx, path, kind, deps, dependents, state
FROM qf_node WHERE workflow_id = $1 ORDER BY idx
FOR UPDATE`, id)
	if err != nil {
		return nil, fmt.Errorf("load nodes: %w", err)
	}
	nodes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Node, error) {
		var n Node
		err := row.Scan(&n.idx, &n.parent, &n.path, &n.kind, &n.deps, &n.dependents, &n.state)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("load nodes: %w", err)
	}
	g := &Graph{nodes: nodes, pos: make(map[int32]int, len(nodes))}
	for i, n := range nodes {
		g.pos[n.idx] = i
	}
	for _, n := range nodes {
		if n.parent >= 0 {
			p := &g.nodes[g.pos[n.parent]]
			p.members = append(p.members, n.idx)
		}
	}
	return g, nil
}

// Plan is the set of node resets a retry writes, as arrays for one
// set-based UPDATE.
type Plan struct {
	idx               []int32
	state             []flowtype.NodeState
	remainingDeps     []int32
	failedDeps        []int32
	remainingChildren []int32
	failedChildren    []int32
	rerun             []bool
	rollupSink        []bool
	enqueue           []int32
	deleteSubtrees    []string
	workflowRemaining int32
	workflowFailed    int32
}

// PlanRetry decides which nodes a retry resets (the set R) and computes
// their counters as if R were a fresh workflow whose other nodes already
// completed:
//
//   - remaining_deps counts deps in R (the others are completed);
//   - a member counts toward its container when none of its dependents is
//     in R (rollup_sink marks members that have dependents, all of which
//     keep their completed result);
//   - leaves in R rerun with a new job, except an expanded node under
//     failed-only, which keeps its output and sub-DAG and acts as a group;
//     an expanded node that reruns loses its sub-DAG, which the new job
//     creates again.
func (g *Graph) PlanRetry(mode Mode) Plan {
	inR := make([]bool, len(g.nodes))
	for i, n := range g.nodes {
		inR[i] = mode == All || n.state != flowtype.NodeCompleted
	}
	if mode == FailedAndDownstream {
		queue := make([]int, 0, len(g.nodes))
		for i := range g.nodes {
			if inR[i] {
				queue = append(queue, i)
			}
		}
		// A completed container downstream of a failure reruns whole.
		g.spread(inR, queue, func(int) bool { return true },
			func(i int) bool { return g.nodes[i].state == flowtype.NodeCompleted })
	}
	return g.plan(inR, mode == FailedOnly)
}

// spread adds to inR, breadth first from queue, what lies downstream of
// each node taken: its dependents, its container, and, when enter says so
// for the node, its members. admit filters the nodes added.
func (g *Graph) spread(inR []bool, queue []int, admit, enter func(i int) bool) {
	add := func(j int) {
		if !inR[j] && admit(j) {
			inR[j] = true
			queue = append(queue, j)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		n := &g.nodes[i]
		for _, d := range n.dependents {
			add(g.pos[d])
		}
		if n.parent >= 0 {
			add(g.pos[n.parent])
		}
		if enter(i) {
			for _, m := range n.members {
				add(g.pos[m])
			}
		}
	}
}

// plan computes the resets of the set inR. keepExpansions keeps the
// sub-DAG of an expanded node in inR (it acts as a group) instead of
// rerunning its job. Nodes outside inR keep their state; those that ended
// failed or cancelled still count as failures for their dependents,
// containers and workflow in inR.
func (g *Graph) plan(inR []bool, keepExpansions bool) Plan {
	deleted := make([]bool, len(g.nodes))
	expanded := func(n *Node) bool { return n.kind != nil && len(n.members) > 0 }
	var markSubtree func(i int, set []bool)
	markSubtree = func(i int, set []bool) {
		for _, m := range g.nodes[i].members {
			j := g.pos[m]
			set[j] = true
			markSubtree(j, set)
		}
	}
	rerun := make([]bool, len(g.nodes))
	for i := range g.nodes {
		n := &g.nodes[i]
		if !inR[i] || deleted[i] || n.kind == nil {
			continue
		}
		if expanded(n) && keepExpansions {
			continue
		}
		rerun[i] = true
		if expanded(n) {
			markSubtree(i, deleted)
		}
	}

	// Does any dependent of node i stay to be run?
	hasRDependent := func(i int) bool {
		for _, d := range g.nodes[i].dependents {
			if j := g.pos[d]; inR[j] && !deleted[j] {
				return true
			}
		}
		return false
	}

	p := Plan{}
	started := make([]bool, len(g.nodes))
	remChildren := make([]int32, len(g.nodes))
	failChildren := make([]int32, len(g.nodes))
	for i := range g.nodes {
		n := &g.nodes[i]
		if !inR[i] && !deleted[i] && n.state.IsFailure() {
			if n.parent >= 0 {
				failChildren[g.pos[n.parent]]++
			} else {
				p.workflowFailed++
			}
		}
		if !inR[i] || deleted[i] || hasRDependent(i) {
			continue
		}
		if n.parent >= 0 {
			remChildren[g.pos[n.parent]]++
		} else {
			p.workflowRemaining++
		}
	}
	for i := range g.nodes {
		n := &g.nodes[i]
		if !inR[i] || deleted[i] {
			continue
		}
		var remDeps, failDeps int32
		for _, d := range n.deps {
			if inR[g.pos[d]] {
				remDeps++
			} else if g.nodes[g.pos[d]].state.IsFailure() {
				failDeps++
			}
		}
		parentStarted := n.parent < 0 || started[g.pos[n.parent]] || !inR[g.pos[n.parent]]
		state := flowtype.NodeWaiting
		if remDeps == 0 && parentStarted {
			started[i] = true
			if rerun[i] {
				state = flowtype.NodeEnqueued
				p.enqueue = append(p.enqueue, n.idx)
			} else {
				state = flowtype.NodeActive
			}
		}
		p.idx = append(p.idx, n.idx)
		p.state = append(p.state, state)
		p.remainingDeps = append(p.remainingDeps, remDeps)
		p.failedDeps = append(p.failedDeps, failDeps)
		p.remainingChildren = append(p.remainingChildren, remChildren[i])
		p.failedChildren = append(p.failedChildren, failChildren[i])
		p.rerun = append(p.rerun, rerun[i])
		p.rollupSink = append(p.rollupSink, len(n.dependents) > 0 && !hasRDependent(i))
	}
	for i := range g.nodes {
		if rerun[i] && expanded(&g.nodes[i]) {
			p.deleteSubtrees = append(p.deleteSubtrees, release.LikePrefix(g.nodes[i].path)+"/%")
		}
	}
	return p
}

// ErrNodeNotRetryable is a node that PlanRetryNode cannot rerun alone; the
// error says why.
var ErrNodeNotRetryable = errors.New("node cannot be retried alone")

// PlanRetryNode plans the rerun of one leaf that failed or was cancelled,
// and of what its failure decided: the nodes downstream of it that did not
// complete (its dependents cancelled or skipped by policy, at every level,
// with the members of groups that never started), and the groups that
// contain it. Every other node keeps its state; failed ones still count as
// failures, so a workflow with another failure ends failed again. The
// leaf's deps must have completed (or been skipped): a leaf cancelled
// because a dep failed is retried through that dep.
func (g *Graph) PlanRetryNode(path string) (Plan, error) {
	at := -1
	for i := range g.nodes {
		if g.nodes[i].path == path {
			at = i
			break
		}
	}
	switch {
	case at < 0:
		return Plan{}, fmt.Errorf("%w: no node %q", ErrNodeNotRetryable, path)
	case g.nodes[at].kind == nil || len(g.nodes[at].members) > 0:
		return Plan{}, fmt.Errorf("%w: %s is a group or an expanded node (retry the workflow)", ErrNodeNotRetryable, path)
	case !g.nodes[at].state.IsFailure():
		return Plan{}, fmt.Errorf("%w: %s is %s, not failed or cancelled", ErrNodeNotRetryable, path, g.nodes[at].state)
	}
	for _, d := range g.nodes[at].deps {
		if dep := &g.nodes[g.pos[d]]; dep.state.IsFailure() {
			return Plan{}, fmt.Errorf("%w: its dep %s is %s (retry that node)", ErrNodeNotRetryable, dep.path, dep.state)
		}
	}
	inR := make([]bool, len(g.nodes))
	inR[at] = true
	// A group downstream never started: its members run with it. The
	// containers of the leaf keep their other members as they are.
	g.spread(inR, []int{at},
		func(j int) bool { return g.nodes[j].state != flowtype.NodeCompleted },
		func(i int) bool { return i != at && g.nodes[i].kind == nil && !g.isAncestor(i, at) })
	return g.plan(inR, true), nil
}

// isAncestor reports whether node a contains node b.
func (g *Graph) isAncestor(a, b int) bool {
	for p := g.nodes[b].parent; p >= 0; p = g.nodes[g.pos[p]].parent {
		if g.pos[p] == a {
			return true
		}
	}
	return false
}
