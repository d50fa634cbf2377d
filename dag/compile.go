package dag

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// CompileOpts are the optional settings of Compile and CompileNodes. A nil
// *CompileOpts is the zero value.
type CompileOpts struct {
	// KnownKind reports whether a job kind is registered. Nil means every
	// kind is known. Built-in kinds are the caller's business: pass a
	// function that knows them.
	KnownKind func(kind string) bool

	// BaseDepth is the depth of the node that CompileNodes adds a sub-DAG
	// under; its top-level nodes get depth BaseDepth+1. Compile ignores it.
	BaseDepth int

	// BaseIndex is the PlanNode.Index of the first node CompileNodes returns,
	// usually the number of nodes the workflow has already. Compile ignores
	// it.
	BaseIndex int

	// BaseParent is the PlanNode.Parent of the sub-DAG's top-level nodes,
	// the index of the node that adds them. It is used only when BasePath is
	// set; with BasePath "" the parent is -1. Compile ignores it.
	BaseParent int

	// BasePath is the path of the node that CompileNodes adds a sub-DAG
	// under: the sub-DAG's paths are BasePath + "/" + id. "" means the top
	// level. Compile ignores it.
	BasePath string

	// ExistingNodes is the number of nodes the workflow has already; it
	// counts against MaxNodes. Compile ignores it.
	ExistingNodes int

	// Input is the workflow input, which key templates ({{input.F}}) of
	// the sub-DAG read. Compile uses the spec's input instead.
	Input []byte
}

// Plan is a validated workflow flattened into a list of nodes.
type Plan struct {
	// Name is the workflow name.
	Name string

	// Key is the idempotency key, "" when none.
	Key string

	// Input is the workflow input as compact JSON, "{}" when absent.
	Input json.RawMessage

	// Deadline, when positive, is how long after submit the workflow is
	// cancelled if it has not finished.
	Deadline time.Duration

	// Hash is the hex SHA-256 of the spec's canonical form: the same spec
	// has the same hash whether it was written in YAML or JSON, whatever its
	// key order and whitespace, args and input included. Lists (nodes, deps)
	// keep their order. Resubmitting an idempotency key compares it.
	Hash string

	// Nodes are the workflow's nodes, groups included, in the order that
	// the package doc describes under "Plan ordering": pre-order over the
	// hierarchy, siblings in topological order.
	Nodes []PlanNode
}

// PlanNode is one node of a Plan, with every default resolved.
type PlanNode struct {
	// Index is the node's position in Plan.Nodes, plus CompileOpts.BaseIndex
	// for CompileNodes.
	Index int

	// Path is the node's full id: "per-region/b".
	Path string

	// ID is the node's id among its siblings: "b".
	ID string

	// Parent is the index of the enclosing group, -1 at the top level.
	Parent int

	// Depth is 1 at the top level, 2 inside a top-level group, and so on.
	Depth int

	// Kind is the leaf's job kind, "" for a group.
	Kind string

	// Args are the leaf's args as a compact JSON object, "{}" when absent;
	// nil for a group.
	Args json.RawMessage

	// Deps are the indexes of the node's deps (siblings), sorted ascending.
	Deps []int

	// Dependents are the indexes of the siblings that depend on the node,
	// sorted ascending.
	Dependents []int

	// Queue is the leaf's River queue: its own, else the defaults', else
	// "default". "" for a group.
	Queue string

	// Priority is the leaf's River priority: realtime 1, high 2, normal 3
	// (the default), bulk 4. 0 for a group.
	Priority int

	// MaxAttempts is the leaf's attempt limit: its own, else the defaults',
	// else 3. 0 for a group.
	MaxAttempts int

	// Timeout bounds one attempt of the leaf: its own, else the defaults',
	// else 0 (no timeout).
	Timeout time.Duration

	// OnDepFailure is "cancel" (the default), "skip" or "run".
	OnDepFailure string

	// Members is the number of direct members of a group, 0 for a leaf.
	Members int

	// SinkMembers is the number of a group's direct members that no sibling
	// depends on: the group is done when they all are. 0 for a leaf.
	SinkMembers int

	// Concurrency is the leaf's concurrency limit with its key rendered,
	// nil for none (and for a group).
	Concurrency *ConcurrencyLimit

	// Rate is the leaf's rate limit with its key rendered, nil for none.
	Rate *RateLimit

	// Retry is the leaf's retry backoff, nil for River's default.
	Retry *Retry

	// Delay is how long after its deps are done the leaf starts at the
	// earliest; 0 for at once.
	Delay time.Duration

	// NotBefore is the earliest time the leaf starts; zero for none.
	NotBefore time.Time
}

// IsGroup reports whether the node is a group.
func (n *PlanNode) IsGroup() bool { return n.Kind == "" }

// IsSink reports whether no sibling depends on the node.
func (n *PlanNode) IsSink() bool { return len(n.Dependents) == 0 }

// SinkCount returns the number of top-level nodes that nothing depends on:
// the workflow is done when they all are.
func (p *Plan) SinkCount() int { return SinkCount(p.Nodes, -1) }

// SinkCount returns the number of nodes with the given Parent that no
// sibling depends on. Use it for the nodes that CompileNodes returns, with
// CompileOpts.BaseParent as parent.
func SinkCount(nodes []PlanNode, parent int) int {
	n := 0
	for i := range nodes {
		if nodes[i].Parent == parent && len(nodes[i].Dependents) == 0 {
			n++
		}
	}
	return n
}

// Compile validates spec and flattens it into a Plan.
//
// It reports every problem it finds, up to MaxValidationErrors: one problem
// is a *ValidationError, more are a *ValidationErrors. Either way
// errors.Is(err, ErrCycle) and errors.As(err, &validationErr) work. Of opts,
// only KnownKind applies.
//
//	plan, err := dag.Compile(spec, &dag.CompileOpts{KnownKind: registered})
//	if err != nil {
//		// handle error
//	}
func Compile(spec *Spec, opts *CompileOpts) (*Plan, error) {
	if spec == nil {
		return nil, &ValidationError{Err: ErrInvalidSpec, Msg: "spec is nil"}
	}
	var known func(string) bool
	if opts != nil {
		known = opts.KnownKind
	}
	c := newCompiler(known, true)
	c.parent = -1
	c.hw = newHashWriter()
	if msg := checkName(spec.Name); msg != "" {
		c.errs.add("", "name", ErrInvalidName, msg)
	}
	if spec.Key != "" {
		if msg := checkKey(spec.Key); msg != "" {
			c.errs.add("", "key", ErrInvalidKey, msg)
		}
	}
	input, inputCanon := []byte("{}"), []byte("{}")
	if len(spec.Input) > 0 {
		compact, canon, serr := jsonObject(spec.Input, []byte{})
		switch {
		case serr != nil:
			c.errs.addf("", "input", jsonErrSentinel(serr), "%s", jsonErrMsg(serr))
		case len(compact) > MaxInputBytes:
			c.errs.addf("", "input", ErrInputTooLarge, "is %d bytes of JSON, more than the limit of %d (1 MiB)", len(compact), MaxInputBytes)
		default:
			input, inputCanon = compact, canon
		}
	}
	if spec.Deadline < 0 {
		c.errs.addf("", "deadline", ErrInvalidDuration, "%s must be positive", time.Duration(spec.Deadline))
	}
	c.input = input
	c.hashSpec(spec, inputCanon)
	nodes := c.compile(spec.Nodes, spec.Defaults)
	if err := c.errs.err(); err != nil {
		return nil, err
	}
	return &Plan{
		Name:     spec.Name,
		Key:      spec.Key,
		Input:    input,
		Hash:     c.hw.sum(),
		Deadline: time.Duration(spec.Deadline),
		Nodes:    nodes,
	}, nil
}

// CompileNodes validates and flattens a sub-DAG that a running node adds
// under itself (a dynamic expansion). Paths start with opts.BasePath + "/",
// depths at opts.BaseDepth+1 and indexes at opts.BaseIndex, and the
// sub-DAG's top-level nodes get Parent opts.BaseParent (-1 when BasePath is
// ""). Deps name siblings within nodes. The checks and limits of Compile
// apply: MaxDepth counts the base depth, and MaxNodes counts
// opts.ExistingNodes. defaults are the workflow's.
func CompileNodes(nodes []Node, defaults Defaults, opts *CompileOpts) ([]PlanNode, error) {
	if opts == nil {
		opts = &CompileOpts{}
	}
	c := newCompiler(opts.KnownKind, false)
	c.basePath, c.baseDepth, c.baseIndex, c.parent = opts.BasePath, opts.BaseDepth, opts.BaseIndex, -1
	if opts.BasePath != "" {
		c.parent = opts.BaseParent
	}
	c.limit = MaxNodes - opts.ExistingNodes
	c.input = opts.Input
	plan := c.compile(nodes, defaults)
	if err := c.errs.err(); err != nil {
		return nil, err
	}
	return plan, nil
}

// jsonErrSentinel picks the sentinel of a problem with args or input.
func jsonErrSentinel(err *scanError) error {
	switch {
	case err.dup:
		return ErrDuplicateKey
	case err.notObject:
		return ErrNotObject
	}
	return ErrInvalidSpec
}

// jsonErrMsg explains a problem with args or input.
func jsonErrMsg(err *scanError) string {
	if err.dup || err.notObject {
		return err.msg
	}
	return "is not valid JSON: " + err.msg
}

// resolved are the defaults of a compilation, built-ins filled in.
type resolved struct {
	queue       string
	priority    int
	maxAttempts int
	timeout     time.Duration
}

// checkDefaults validates defaults and resolves them.
func (c *compiler) checkDefaults(def Defaults) resolved {
	c.checkSettings("", "defaults", &def.Settings)
	c.checkControl("", "defaults", &def.Control)
	c.defCtl = def.Control
	r := resolved{queue: defaultQueue, priority: defaultPriority, maxAttempts: defaultMaxAttempts, timeout: time.Duration(def.Timeout)}
	if def.Queue != "" {
		r.queue = def.Queue
	}
	if p := priorityValue(def.Priority); p != 0 {
		r.priority = p
	}
	if def.MaxAttempts != 0 {
		r.maxAttempts = def.MaxAttempts
	}
	return r
}

// checkSettings reports invalid settings: the defaults' (path "", prefix
// "defaults") or a leaf's (its path, prefix "").
func (c *compiler) checkSettings(path, prefix string, s *Settings) {
	if s.Queue != "" {
		if msg := checkQueue(s.Queue); msg != "" {
			c.errs.add(path, fieldName(prefix, "queue"), ErrInvalidQueue, msg)
		}
	}
	if s.Priority != "" && priorityValue(s.Priority) == 0 {
		c.errs.add(path, fieldName(prefix, "priority"), ErrInvalidPriority, priorityMsg(s.Priority))
	}
	if s.MaxAttempts != 0 {
		if msg := checkMaxAttempts(int64(s.MaxAttempts)); msg != "" {
			c.errs.add(path, fieldName(prefix, "max_attempts"), ErrInvalidMaxAttempts, msg)
		}
	}
	if s.Timeout < 0 {
		c.errs.addf(path, fieldName(prefix, "timeout"), ErrInvalidDuration, "%s must be positive", time.Duration(s.Timeout))
	}
}

// priorityMsg explains a bad priority.
func priorityMsg(p string) string {
	return "unknown priority " + strconv.Quote(truncate(p)) + " (want realtime, high, normal or bulk)"
}

// emit lays out the plan: pre-order over the hierarchy, each level in its
// topological order. It runs only on a valid spec.
func (c *compiler) emit() []PlanNode {
	plan := make([]PlanNode, 0, len(c.items))
	byPlan := make([]int32, 0, len(c.items)) // item of each plan position
	type cursor struct{ level, pos int32 }
	stack := []cursor{{level: 0}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		lv := &c.levels[top.level]
		if top.pos == lv.count {
			stack = stack[:len(stack)-1]
			continue
		}
		ii := lv.first + c.order[lv.first+top.pos]
		top.pos++
		it := &c.items[ii]
		it.global = int32(len(plan))
		parent := c.parent
		if it.parent >= 0 {
			parent = c.baseIndex + int(c.items[it.parent].global)
		}
		plan = append(plan, c.planNode(it, parent))
		byPlan = append(byPlan, ii)
		if it.child >= 0 {
			stack = append(stack, cursor{level: it.child})
		}
	}

	// Deps and dependents, in two arenas. Walking the plan in order makes
	// each dependents list ascending.
	deps := make([]int, len(c.edges))
	ndependents := make([]int32, len(c.items))
	for ii := range c.items {
		it := &c.items[ii]
		first := c.levels[it.level].first
		for _, e := range c.edges[it.depLo:it.depHi] {
			ndependents[first+e]++
		}
	}
	for ii := range c.items {
		it := &c.items[ii]
		lo, hi := it.depLo, it.depHi
		if lo == hi {
			continue
		}
		first := c.levels[it.level].first
		d := deps[lo:hi:hi]
		for k, e := range c.edges[lo:hi] {
			d[k] = c.baseIndex + int(c.items[first+e].global)
		}
		slices.Sort(d)
		plan[it.global].Deps = d
	}
	dependents := make([]int, len(c.edges))
	next := 0
	for ii := range c.items {
		if n := int(ndependents[ii]); n > 0 {
			plan[c.items[ii].global].Dependents = dependents[next : next : next+n]
			next += n
		}
	}
	for pos, ii := range byPlan {
		it := &c.items[ii]
		first := c.levels[it.level].first
		for _, e := range c.edges[it.depLo:it.depHi] {
			dep := &plan[c.items[first+e].global]
			dep.Dependents = append(dep.Dependents, c.baseIndex+pos)
		}
	}
	for ii := range c.items {
		if it := &c.items[ii]; it.parent >= 0 {
			g := &plan[c.items[it.parent].global]
			g.Members++
			if ndependents[ii] == 0 {
				g.SinkMembers++
			}
		}
	}
	return plan
}

// planNode builds the PlanNode of an item.
func (c *compiler) planNode(it *item, parent int) PlanNode {
	n := it.node
	pn := PlanNode{
		Index:        c.baseIndex + int(it.global),
		Path:         it.path,
		ID:           n.ID,
		Parent:       parent,
		Depth:        int(it.depth),
		OnDepFailure: cmpOr(n.OnDepFailure, policyCancel),
	}
	if it.child >= 0 {
		return pn
	}
	pn.Kind = n.Kind
	pn.Args = it.args
	pn.Queue = cmpOr(n.Queue, c.def.queue)
	pn.Priority = c.def.priority
	if n.Priority != "" {
		pn.Priority = priorityValue(n.Priority)
	}
	pn.MaxAttempts = c.def.maxAttempts
	if n.MaxAttempts != 0 {
		pn.MaxAttempts = n.MaxAttempts
	}
	pn.Timeout = c.def.timeout
	if n.Timeout != 0 {
		pn.Timeout = time.Duration(n.Timeout)
	}
	f := it.flow
	pn.Concurrency, pn.Rate, pn.Retry, pn.Delay, pn.NotBefore = f.concurrency, f.rate, f.retry, f.delay, f.notBefore
	return pn
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// tooManyMsg explains ErrTooManyNodes.
func tooManyMsg(existing int) string {
	if existing > 0 {
		return fmt.Sprintf("more than %d nodes with the %d the workflow has (groups and expansions counted)", MaxNodes, existing)
	}
	return fmt.Sprintf("more than %d nodes (groups counted)", MaxNodes)
}
