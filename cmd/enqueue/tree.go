package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
)

// maxErrorRunes cuts long errors in the text tree; -o json has them whole.
const maxErrorRunes = 160

type treeOpts struct {
	// maxNodes caps the node lines; 0 means no cap.
	maxNodes int
	// failedOnly keeps failed and cancelled nodes and the groups above them.
	failedOnly bool
	// now is the time running durations are measured to.
	now time.Time
}

// renderTree writes the workflow's nodes as a tree: groups (and expanded
// nodes) contain their members, siblings in the workflow's order. Columns are
// aligned; nodes past maxNodes are collapsed into one line per level that
// counts them by state.
func renderTree(w io.Writer, st *flow.WorkflowStatus, o treeOpts) error {
	children := make(map[string][]int, len(st.Nodes))
	for i := range st.Nodes {
		p := st.Nodes[i].Parent
		children[p] = append(children[p], i)
	}
	starts := groupStarts(st)
	keep := func(int) bool { return true }
	if o.failedOnly {
		parentOf := make(map[string]string, len(st.Nodes))
		for i := range st.Nodes {
			parentOf[st.Nodes[i].ID] = st.Nodes[i].Parent
		}
		kept := make(map[string]bool)
		for i := range st.Nodes {
			n := &st.Nodes[i]
			if n.State.IsFailure() {
				kept[n.ID] = true
				for p := n.Parent; p != "" && !kept[p]; p = parentOf[p] {
					kept[p] = true
				}
			}
		}
		if len(kept) == 0 {
			_, err := fmt.Fprintln(w, "no failed or cancelled nodes")
			return err
		}
		keep = func(i int) bool { return kept[st.Nodes[i].ID] }
	}

	out := &trimWriter{w: w}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tKIND\tSTATE\tATTEMPTS\tDURATION\tERROR")
	shown, hidden := 0, 0
	var walk func(parent, prefix string)
	walk = func(parent, prefix string) {
		var kids []int
		for _, i := range children[parent] {
			if keep(i) {
				kids = append(kids, i)
			}
		}
		for j, i := range kids {
			if o.maxNodes > 0 && shown >= o.maxNodes {
				var rest []flow.NodeStatus
				for _, k := range kids[j:] {
					rest = appendSubtree(rest, st, children, k, keep)
				}
				hidden += len(rest)
				// No tab: a trailing cell does not widen the columns.
				fmt.Fprintf(tw, "%s└─ … %s more: %s\n", prefix, strconv.Itoa(len(rest)), stateCounts(rest))
				return
			}
			n := &st.Nodes[i]
			branch, next := "├─ ", "│  "
			if j == len(kids)-1 {
				branch, next = "└─ ", "   "
			}
			fmt.Fprintf(tw, "%s%s%s\t%s\t%s\t%s\t%s\t%s\n", prefix, branch, lastSegment(n.ID),
				kindOf(n), n.State, attemptsOf(n), durationOf(n, starts[i], o.now), errorOf(n))
			shown++
			walk(n.ID, prefix+next)
		}
	}
	walk("", "")
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := out.flush(); err != nil {
		return err
	}
	if hidden > 0 {
		_, err := fmt.Fprintf(w, "\n%d of %d nodes shown; --max-nodes 0 shows all, --failed only the failures\n", shown, shown+hidden)
		return err
	}
	return nil
}

// appendSubtree appends node i and everything under it that keep accepts.
func appendSubtree(dst []flow.NodeStatus, st *flow.WorkflowStatus, children map[string][]int, i int, keep func(int) bool) []flow.NodeStatus {
	dst = append(dst, st.Nodes[i])
	for _, k := range children[st.Nodes[i].ID] {
		if keep(k) {
			dst = appendSubtree(dst, st, children, k, keep)
		}
	}
	return dst
}

func lastSegment(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[i+1:]
		}
	}
	return path
}

func kindOf(n *flow.NodeStatus) string {
	if n.Kind == nil {
		return "group"
	}
	return *n.Kind
}

func attemptsOf(n *flow.NodeStatus) string {
	if n.Kind == nil {
		return ""
	}
	return strconv.Itoa(n.Attempts)
}

// groupStarts returns each node's start time: its own, or for a group (which
// records none) the earliest start of a node inside it.
func groupStarts(st *flow.WorkflowStatus) []*time.Time {
	starts := make([]*time.Time, len(st.Nodes))
	byPath := make(map[string]int, len(st.Nodes))
	for i := range st.Nodes {
		starts[i] = st.Nodes[i].StartedAt
		byPath[st.Nodes[i].ID] = i
	}
	// Members come after their group: walking backwards sees every member
	// before its group.
	for i := len(st.Nodes) - 1; i >= 0; i-- {
		p, ok := byPath[st.Nodes[i].Parent]
		if !ok || starts[i] == nil || st.Nodes[p].StartedAt != nil {
			continue
		}
		if starts[p] == nil || starts[i].Before(*starts[p]) {
			starts[p] = starts[i]
		}
	}
	return starts
}

// durationOf is how long the node ran (finished - started), or for how long
// it has been running.
func durationOf(n *flow.NodeStatus, started *time.Time, now time.Time) string {
	switch {
	case started == nil:
		return ""
	case n.FinishedAt != nil:
		return fmtDuration(max(n.FinishedAt.Sub(*started), 0))
	case n.State == flowtype.NodeRunning || n.State == flowtype.NodeRetryable:
		return "for " + fmtDuration(max(now.Sub(*started), 0))
	}
	return ""
}

// trimWriter drops the spaces that tabwriter pads before an empty last
// column, line by line.
type trimWriter struct {
	w    io.Writer
	line []byte
}

func (t *trimWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b != '\n' {
			t.line = append(t.line, b)
			continue
		}
		if _, err := fmt.Fprintf(t.w, "%s\n", bytes.TrimRight(t.line, " ")); err != nil {
			return 0, err
		}
		t.line = t.line[:0]
	}
	return len(p), nil
}

func (t *trimWriter) flush() error {
	if len(t.line) == 0 {
		return nil
	}
	_, err := t.w.Write(bytes.TrimRight(t.line, " "))
	t.line = t.line[:0]
	return err
}

func errorOf(n *flow.NodeStatus) string {
	if n.Error == nil {
		return ""
	}
	s := []rune(oneLine(*n.Error))
	if len(s) > maxErrorRunes {
		return string(s[:maxErrorRunes-1]) + "…"
	}
	return string(s)
}
