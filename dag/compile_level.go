package dag

import (
	"encoding/json"
	"strconv"
	"strings"
)

// compiler validates and flattens a DAG without recursion. It first lays
// the hierarchy out breadth-first into items, so that the members of each
// group (a level) are contiguous, then checks each level's ids and deps and
// sorts it topologically, then emits the plan in pre-order.
type compiler struct {
	known func(string) bool
	kinds map[string]bool // KnownKind's answers
	canon bool            // compute canonical args, for the hash
	hw    *hashWriter     // the hash of the canonical form, when canon
	buf   []byte          // canonical args of the current node
	scan  jsonScanner     // reused for args

	errs   errorList
	def    resolved
	defCtl Control // the defaults' flow control
	input  []byte  // the workflow input, for key templates
	items  []item
	levels []level
	edges  []int32 // each item's deps, as local indexes in its level
	order  []int32 // each level's topological order, at its items' offsets
	stamp  []int32 // finds duplicate deps

	limit     int
	basePath  string
	baseDepth int
	baseIndex int
	parent    int               // Parent of top-level nodes
	elsewhere map[string]string // id -> first path, built on an unknown dep
}

// item is one node of the spec during compilation.
type item struct {
	node         *Node
	path         string
	args         json.RawMessage // compact
	parent       int32           // item of the enclosing group, -1 at the top
	level        int32
	depth        int32
	child        int32   // level of the members, -1 for a leaf
	depLo, depHi int32   // range of edges
	global       int32   // position in the plan
	ctl          Control // flow control in effect: own, else enclosing groups', else defaults'
	flow         leafFlow
}

// level is a list of siblings.
type level struct {
	nodes        []Node
	owner        int32 // item of the group, -1 at the top
	first, count int32 // range of items
}

func newCompiler(known func(string) bool, canon bool) *compiler {
	c := &compiler{known: known, canon: canon, limit: MaxNodes}
	if canon {
		c.buf = make([]byte, 0, 512) // Not nil: jsonObject then writes canonical JSON.
	}
	if known != nil {
		c.kinds = map[string]bool{}
	}
	return c
}

// compile validates nodes and returns their plan, or nil with c.errs set.
func (c *compiler) compile(nodes []Node, defaults Defaults) []PlanNode {
	c.def = c.checkDefaults(defaults)
	switch {
	case len(nodes) == 0:
		c.errs.add(c.basePath, "nodes", ErrNoNodes, "needs at least one node")
		return nil
	case c.baseDepth+1 > MaxDepth:
		c.errs.addf(c.basePath, "nodes", ErrTooDeep, "nodes here would be at level %d, deeper than the limit of %d", c.baseDepth+1, MaxDepth)
		return nil
	}
	total, ok := c.count(nodes)
	if !ok {
		c.errs.add(c.basePath, "nodes", ErrTooManyNodes, tooManyMsg(MaxNodes-c.limit))
		return nil
	}
	c.items = make([]item, 0, total)
	c.flatten(nodes)
	if len(c.errs.errs) > 0 && c.errs.full() {
		return nil
	}
	c.order = make([]int32, len(c.items))
	c.stamp = make([]int32, len(c.items))
	for li := range c.levels {
		if c.errs.full() {
			break
		}
		c.checkLevel(int32(li))
	}
	if len(c.errs.errs) > 0 {
		return nil
	}
	return c.emit()
}

// count counts the nodes, groups included, and reports whether they are
// within the limit.
func (c *compiler) count(nodes []Node) (int, bool) {
	total := 0
	stack := [][]Node{nodes}
	for len(stack) > 0 {
		list := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if total += len(list); total > c.limit {
			return total, false
		}
		for i := range list {
			if len(list[i].Nodes) > 0 {
				stack = append(stack, list[i].Nodes)
			}
		}
	}
	return total, true
}

// flatten lays the hierarchy out breadth-first and checks each node's own
// fields.
func (c *compiler) flatten(nodes []Node) {
	c.levels = append(c.levels, level{nodes: nodes, owner: -1})
	for li := 0; li < len(c.levels); li++ {
		lv := c.levels[li]
		c.levels[li].first = int32(len(c.items))
		c.levels[li].count = int32(len(lv.nodes))
		parentPath, depth := c.basePath, int32(c.baseDepth+1)
		if lv.owner >= 0 {
			parentPath, depth = c.items[lv.owner].path, c.items[lv.owner].depth+1
		}
		for i := range lv.nodes {
			n := &lv.nodes[i]
			path := nodeLabel(n.ID, i)
			if parentPath != "" {
				path = parentPath + "/" + path
			}
			c.items = append(c.items, item{node: n, path: path, parent: lv.owner, level: int32(li), depth: depth, child: -1})
			ii := int32(len(c.items) - 1)
			canon := c.checkNode(&c.items[ii])
			if c.hw != nil {
				c.hashItem(&c.items[ii], canon)
			}
			if len(n.Nodes) > 0 {
				if depth+1 > MaxDepth {
					c.errs.addf(path, "nodes", ErrTooDeep, "groups nest at most %d levels deep, and these members would be at level %d", MaxDepth, depth+1)
				} else {
					c.items[ii].child = int32(len(c.levels))
					c.levels = append(c.levels, level{nodes: n.Nodes, owner: ii})
				}
			}
			if c.errs.full() {
				return
			}
		}
	}
}

// checkNode checks a node's own fields and computes its args. It returns
// the canonical args when c.canon is set.
func (c *compiler) checkNode(it *item) (canon []byte) {
	n, path := it.node, it.path
	if msg := checkID(n.ID); msg != "" {
		c.errs.add(path, "id", ErrInvalidID, msg)
	}
	if !validPolicy(n.OnDepFailure) {
		c.errs.addf(path, "on_dep_failure", ErrInvalidPolicy, "unknown policy %q (want cancel, skip or run)", truncate(n.OnDepFailure))
	}
	c.checkControl(path, "", &n.Control)
	outer := c.defCtl
	if it.parent >= 0 {
		outer = c.items[it.parent].ctl
	}
	it.ctl = n.Control.inherit(outer)
	switch {
	case n.Kind != "" && n.Nodes != nil:
		c.errs.add(path, "kind", ErrKindAndNodes, "has both kind and nodes (a leaf has kind, a group has nodes)")
		return
	case n.Kind == "" && n.Nodes == nil:
		c.errs.add(path, "kind", ErrNoKindNorNodes, "is required unless the node is a group with nodes")
		return
	case n.Kind == "":
		if len(n.Nodes) == 0 {
			c.errs.add(path, "nodes", ErrEmptyGroup, "a group needs at least one node")
		}
		c.checkGroupFields(n, path)
		return
	}
	if msg := checkKind(n.Kind); msg != "" {
		c.errs.add(path, "kind", ErrInvalidKind, msg)
	} else if c.known != nil {
		ok, seen := c.kinds[n.Kind]
		if !seen {
			ok = c.known(n.Kind)
			c.kinds[n.Kind] = ok
		}
		if !ok {
			c.errs.addf(path, "kind", ErrUnknownKind, "unknown kind %q (no worker registers it)", n.Kind)
		}
	}
	it.args = json.RawMessage("{}")
	if len(n.Args) > 0 {
		var dst []byte
		if c.canon {
			dst = c.buf[:0]
		}
		compact, canonical, serr := c.scan.object(n.Args, dst)
		if canonical != nil {
			c.buf = canonical
		}
		switch {
		case serr != nil:
			c.errs.addf(path, "args", jsonErrSentinel(serr), "%s", jsonErrMsg(serr))
		case len(compact) > MaxArgsBytes:
			c.errs.addf(path, "args", ErrArgsTooLarge, "is %d bytes of JSON, more than the limit of %d (1 MiB)", len(compact), MaxArgsBytes)
		default:
			it.args, canon = compact, canonical
		}
	}
	c.checkSettings(path, "", &n.Settings)
	c.resolveFlow(it)
	return canon
}

// checkGroupFields reports leaf-only fields set on a group.
func (c *compiler) checkGroupFields(n *Node, path string) {
	for _, f := range [...]struct {
		name string
		set  bool
	}{
		{"args", len(n.Args) > 0},
		{"queue", n.Queue != ""},
		{"priority", n.Priority != ""},
		{"max_attempts", n.MaxAttempts != 0},
		{"timeout", n.Timeout != 0},
		{"delay", n.Delay != 0},
		{"not_before", n.NotBefore != ""},
	} {
		if f.set {
			c.errs.add(path, f.name, ErrGroupField, "applies to leaves only, and this node is a group (set it on its members or in defaults)")
		}
	}
}

// checkLevel checks the ids and deps of one level and sorts it.
func (c *compiler) checkLevel(li int32) {
	lv := c.levels[li]
	first, count := lv.first, lv.count
	items := c.items[first : first+count]

	lookup := func(id string) int32 {
		for j := range items {
			if items[j].node.ID == id && validID(id) {
				return int32(j)
			}
		}
		return -1
	}
	if count > 8 {
		byID := make(map[string]int32, count)
		for j := len(items) - 1; j >= 0; j-- {
			if id := items[j].node.ID; validID(id) {
				byID[id] = int32(j)
			}
		}
		lookup = func(id string) int32 {
			if j, ok := byID[id]; ok {
				return j
			}
			return -1
		}
	}
	for i := range items {
		if id := items[i].node.ID; validID(id) {
			if j := lookup(id); j != int32(i) {
				c.errs.addf(items[i].path, "id", ErrDuplicateID, "duplicate id %q: the node at position %d of the same list has it too (siblings need unique ids)", id, j)
			}
		}
	}
	for i := range items {
		it := &items[i]
		it.depLo = int32(len(c.edges))
		for _, name := range it.node.Deps {
			j := lookup(name)
			switch {
			case j < 0:
				c.errs.addf(it.path, "deps", ErrUnknownDep, "%s", c.unknownDepMsg(name))
			case j == int32(i):
				c.errs.addf(it.path, "deps", ErrCycle, "cycle: %s -> %s (a node cannot depend on itself)", name, name)
			case c.stamp[first+j] == first+int32(i)+1:
				c.errs.addf(it.path, "deps", ErrDuplicateDep, "duplicate dep %q", name)
			default:
				c.stamp[first+j] = first + int32(i) + 1
				c.edges = append(c.edges, j)
			}
		}
		it.depHi = int32(len(c.edges))
	}
	c.toposort(li)
}

// unknownDepMsg explains an unknown dep, saying where a node of that id is
// when there is one elsewhere in the hierarchy.
func (c *compiler) unknownDepMsg(name string) string {
	if c.elsewhere == nil {
		c.elsewhere = make(map[string]string)
		for i := range c.items {
			if id := c.items[i].node.ID; validID(id) {
				if _, ok := c.elsewhere[id]; !ok {
					c.elsewhere[id] = c.items[i].path
				}
			}
		}
	}
	if p, ok := c.elsewhere[name]; ok {
		return "unknown dep " + strconv.Quote(name) + " (deps name sibling nodes only; " + strconv.Quote(p) + " is not a sibling)"
	}
	return "unknown dep " + strconv.Quote(truncate(name)) + " (deps name sibling nodes only)"
}

// toposort writes the level's topological order, ties broken by declaration
// order (Kahn's algorithm with a min-heap), and reports cycles.
func (c *compiler) toposort(li int32) {
	lv := c.levels[li]
	first, count := lv.first, lv.count
	items := c.items[first : first+count]
	order := c.order[first : first+count]

	backward := true // Every dep declared before its dependent: keep the order.
	for i := range items {
		for _, e := range c.edges[items[i].depLo:items[i].depHi] {
			if e >= int32(i) {
				backward = false
			}
		}
	}
	if backward {
		for i := range order {
			order[i] = int32(i)
		}
		return
	}

	indeg := make([]int32, count)
	start := make([]int32, count+1) // dependents of v: adj[start[v]:start[v+1]]
	for i := range items {
		indeg[i] = items[i].depHi - items[i].depLo
		for _, e := range c.edges[items[i].depLo:items[i].depHi] {
			start[e+1]++
		}
	}
	for v := range count {
		start[v+1] += start[v]
	}
	adj := make([]int32, start[count])
	fill := append([]int32(nil), start[:count]...)
	for i := range items {
		for _, e := range c.edges[items[i].depLo:items[i].depHi] {
			adj[fill[e]] = int32(i)
			fill[e]++
		}
	}
	var heap minHeap
	for v := range count {
		if indeg[v] == 0 {
			heap.push(v)
		}
	}
	n := 0
	for len(heap) > 0 {
		v := heap.pop()
		order[n] = v
		n++
		for _, w := range adj[start[v]:start[v+1]] {
			if indeg[w]--; indeg[w] == 0 {
				heap.push(w)
			}
		}
	}
	if n < int(count) {
		c.reportCycles(items, indeg)
	}
}

// reportCycles reports one cycle per strongly tied group of the nodes that
// Kahn's algorithm left (indeg > 0). Each such node has a dep among them, so
// following deps from one always closes a cycle.
func (c *compiler) reportCycles(items []item, indeg []int32) {
	state := make([]int32, len(items)) // 0 new, v+1 on walk from v, -1 done
	pos := make([]int32, len(items))
	var walk []int32
	for v := range items {
		if indeg[v] == 0 || state[v] != 0 {
			continue
		}
		mark := int32(v) + 1
		walk = walk[:0]
		cur := int32(v)
		for {
			state[cur], pos[cur] = mark, int32(len(walk))
			walk = append(walk, cur)
			next := int32(-1)
			for _, e := range c.edges[items[cur].depLo:items[cur].depHi] {
				if indeg[e] > 0 {
					next = e
					break
				}
			}
			if next < 0 || state[next] == -1 {
				break
			}
			if state[next] == mark {
				c.reportCycle(items, walk[pos[next]:])
				break
			}
			cur = next
		}
		for _, w := range walk {
			state[w] = -1
		}
		if c.errs.full() {
			return
		}
	}
}

// reportCycle reports a cycle given in deps direction (each node depends on
// the next), starting from its first-declared node.
func (c *compiler) reportCycle(items []item, cycle []int32) {
	k := len(cycle)
	low := 0
	for i := range cycle {
		if cycle[i] < cycle[low] {
			low = i
		}
	}
	names := make([]string, 0, k+1)
	for i := range k + 1 {
		names = append(names, items[cycle[(low+i)%k]].node.ID)
	}
	c.errs.addf(items[cycle[low]].path, "deps", ErrCycle, "cycle: %s (each node depends on the next)", strings.Join(names, " -> "))
}

// minHeap is a binary min-heap of local indexes.
type minHeap []int32

func (h *minHeap) push(v int32) {
	*h = append(*h, v)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *minHeap) pop() int32 {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l] < a[m] {
			m = l
		}
		if r < len(a) && a[r] < a[m] {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
