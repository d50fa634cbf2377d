package console

import (
	"time"
)

// The critical path of a finished (or running) workflow is the chain of
// nodes, following deps, whose durations add up to the most: no schedule
// could have finished the workflow sooner than its length, however many
// workers it had. Comparing it with the makespan (first start to last
// finish) tells where the time went: a makespan close to the critical
// path's length means the DAG's shape is the limit; a much longer one
// means the nodes waited (for workers, for the queue, for retries).
//
// Deps join siblings, and a group waits for all of its deps before any of
// its members start, so the longest chain is found level by level: a
// group's (or an expanded node's) duration is the longest chain among its
// members, and a chain through a group adds that duration.

// TimedNode is one node as the critical path sees it.
type TimedNode struct {
	Idx    int32
	Parent int32 // -1 at the top level
	Path   string
	Leaf   bool    // a node with a job of its own (kind set)
	Deps   []int32 // sibling idx
	// Start and End of the node's last attempt; End is now for a node
	// still running, and both are zero for a node that never ran.
	Start, End time.Time
}

// CriticalPath is the result of FindCriticalPath.
type CriticalPath struct {
	// Length is the sum of the durations of the leaves on the path.
	Length time.Duration
	// Paths are the node paths on the path, in order, groups included
	// (a group is on the path when its longest chain is).
	Paths []string
}

// FindCriticalPath returns the longest chain of node durations through
// nodes, following deps between siblings and into groups. Nodes that never
// ran count zero.
func FindCriticalPath(nodes []TimedNode) *CriticalPath {
	byIdx := make(map[int32]int, len(nodes))
	children := map[int32][]int{}
	for i, n := range nodes {
		byIdx[n.Idx] = i
		children[n.Parent] = append(children[n.Parent], i)
	}
	// chain[i]: the longest chain ending with node i, its own duration
	// included.
	chain := make([]time.Duration, len(nodes))
	done := make([]bool, len(nodes))
	prev := make([]int, len(nodes)) // the dep the longest chain came from, -1 for none
	tail := make([]int, len(nodes)) // the member ending i's longest inner chain, -1 for none

	var level func(parent int32) (time.Duration, int)
	var nodeChain func(i int) time.Duration
	duration := func(i int) time.Duration {
		n := nodes[i]
		own := time.Duration(0)
		if n.Leaf && !n.Start.IsZero() && n.End.After(n.Start) {
			own = n.End.Sub(n.Start)
		}
		if _, has := children[n.Idx]; has {
			l, t := level(n.Idx)
			tail[i] = t
			// An expanded node's own job ran before its members; its
			// End is when they finished, so count only the members.
			return l
		}
		tail[i] = -1
		return own
	}
	nodeChain = func(i int) time.Duration {
		if done[i] {
			return chain[i]
		}
		done[i] = true // a cycle (forbidden by validation) counts as no dep
		best, from := time.Duration(0), -1
		for _, d := range nodes[i].Deps {
			j, ok := byIdx[d]
			if !ok {
				continue
			}
			if c := nodeChain(j); c > best || from == -1 {
				best, from = c, j
			}
		}
		chain[i] = best + duration(i)
		prev[i] = from
		return chain[i]
	}
	level = func(parent int32) (time.Duration, int) {
		best, end := time.Duration(-1), -1
		for _, i := range children[parent] {
			if c := nodeChain(i); c >= best {
				best, end = c, i
			}
		}
		if best < 0 {
			best = 0
		}
		return best, end
	}

	length, end := level(-1)
	out := &CriticalPath{Length: length}
	walked := make([]bool, len(nodes))
	var walk func(i int)
	walk = func(i int) {
		if i < 0 || walked[i] {
			return
		}
		walked[i] = true
		walk(prev[i])
		out.Paths = append(out.Paths, nodes[i].Path)
		walk(tail[i])
	}
	walk(end)
	return out
}
