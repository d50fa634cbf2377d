package main

import (
	"strconv"

	"github.com/quantumflow/quantumflow/dag"
)

// The workflows of the shapes, built in memory. Every leaf is a noop.

const noop = "noop"

func nodeID(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// chainSpec: n0 → n1 → … → n(hops-1).
func chainSpec(hops int) *dag.Spec {
	nodes := make([]dag.Node, hops)
	for i := range nodes {
		nodes[i] = dag.Node{ID: nodeID("n", i), Kind: noop}
		if i > 0 {
			nodes[i].Deps = []string{nodes[i-1].ID}
		}
	}
	return &dag.Spec{Name: "bench-chain", Nodes: nodes}
}

// wideSpec: root → w0 … w(n-1) → join.
func wideSpec(name string, n int) *dag.Spec {
	nodes := make([]dag.Node, 0, n+2)
	nodes = append(nodes, dag.Node{ID: "root", Kind: noop})
	joinDeps := make([]string, n)
	root := []string{"root"}
	for i := range n {
		id := nodeID("w", i)
		nodes = append(nodes, dag.Node{ID: id, Kind: noop, Deps: root})
		joinDeps[i] = id
	}
	nodes = append(nodes, dag.Node{ID: "join", Kind: noop, Deps: joinDeps})
	return &dag.Spec{Name: name, Nodes: nodes}
}

// faninSpec: p0 … p(n-1) → join.
func faninSpec(n int) *dag.Spec {
	nodes := make([]dag.Node, 0, n+1)
	deps := make([]string, n)
	for i := range n {
		deps[i] = nodeID("p", i)
		nodes = append(nodes, dag.Node{ID: deps[i], Kind: noop})
	}
	nodes = append(nodes, dag.Node{ID: "join", Kind: noop, Deps: deps})
	return &dag.Spec{Name: "bench-fanin", Nodes: nodes}
}

// treeSpec: t[0] groups of t[1] groups of t[2] leaves, no deps.
func treeSpec(t [3]int) *dag.Spec {
	groups := make([]dag.Node, t[0])
	for g := range groups {
		subs := make([]dag.Node, t[1])
		for s := range subs {
			leaves := make([]dag.Node, t[2])
			for l := range leaves {
				leaves[l] = dag.Node{ID: nodeID("l", l), Kind: noop}
			}
			subs[s] = dag.Node{ID: nodeID("s", s), Nodes: leaves}
		}
		groups[g] = dag.Node{ID: nodeID("g", g), Nodes: subs}
	}
	return &dag.Spec{Name: "bench-tree", Nodes: groups}
}

// diamondSpec: a → b, c → d.
func diamondSpec() *dag.Spec {
	return &dag.Spec{Name: "bench-diamond", Nodes: []dag.Node{
		{ID: "a", Kind: noop},
		{ID: "b", Kind: noop, Deps: []string{"a"}},
		{ID: "c", Kind: noop, Deps: []string{"a"}},
		{ID: "d", Kind: noop, Deps: []string{"b", "c"}},
	}}
}
