package flow

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/dag"
)

// expansion is a validated sub-DAG waiting for its node's job to succeed.
// Its nodes are compiled with indexes relative to 0 and top-level parent -1;
// applyExpansionTx moves them to their place in the workflow.
type expansion struct {
	nodes []dag.PlanNode
	sinks int
}

func (c *Client) compileExpansion(ctx context.Context, meta jobMeta, defaults dag.Defaults, nodes []dag.Node, allowUnknownKinds bool) (*expansion, error) {
	opts := &dag.CompileOpts{
		BaseDepth:  strings.Count(meta.Path, "/") + 1,
		BaseParent: -1,
		BasePath:   meta.Path,
	}
	if !allowUnknownKinds {
		known, err := c.knownKinds(ctx)
		if err != nil {
			return nil, err
		}
		opts.KnownKind = func(kind string) bool { _, ok := known[kind]; return ok }
	}
	plan, err := dag.CompileNodes(nodes, defaults, opts)
	if err != nil {
		return nil, fmt.Errorf("expand %s: %w", meta.Path, err)
	}
	return &expansion{nodes: plan, sinks: dag.SinkCount(plan, -1)}, nil
}

// applyExpansionTx allocates indexes for the expansion's nodes, writes them
// under parent and returns the leaves that start at once.
func (c *Client) applyExpansionTx(ctx context.Context, tx pgx.Tx, wf string, parent int32, exp *expansion) ([]leafRow, error) {
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
	return copyNodes(ctx, tx, wf, nodes, int(parent))
}

func shifted(in []int, by int) []int {
	out := slices.Clone(in)
	for i := range out {
		out[i] += by
	}
	return out
}
