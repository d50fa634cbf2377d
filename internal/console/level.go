package console

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
)

// changesOverlap is how far before a cursor Changes looks again: a
// transaction that committed after the previous read may carry times
// (its own start, a worker's clock) from a little before it.
const changesOverlap = 5 * time.Second

// Member is one node of a level: a leaf, a group or an expanded node.
type Member struct {
	// Index is the member's position in Level.Members.
	Index int    `json:"index"`
	Path  string `json:"path"`
	Name  string `json:"name"`
	// Kind is the job kind, null for a group.
	Kind  *string            `json:"kind"`
	State flowtype.NodeState `json:"state"`
	// Deps are the sibling names this member waits for; DepIndex the same
	// as indexes into Level.Members.
	Deps     []string `json:"deps"`
	DepIndex []int    `json:"dep_index"`
	JobID    *int64   `json:"job_id"`
	Attempts int32    `json:"attempts"`
	// Descendants counts the nodes below a group or an expanded node; 0
	// for a leaf. Counts splits them by state.
	Descendants int            `json:"descendants"`
	Counts      map[string]int `json:"counts,omitempty"`
	StartedAt   *Time          `json:"started_at"`
	FinishedAt  *Time          `json:"finished_at"`
	// X and Y place the member in the drawing (Layout); LayerX0 and
	// LayerX1 are the x of its layer's first and last column.
	X       int `json:"x"`
	Y       int `json:"y"`
	LayerX0 int `json:"layer_x0"`
	LayerX1 int `json:"layer_x1"`
}

// Level is one level of a workflow's hierarchy: the members of a group, or
// the top-level nodes, laid out for drawing.
type Level struct {
	Workflow WorkflowHead `json:"workflow"`
	// Group is the group's path, "" for the top level; GroupState its
	// reported state (the workflow's status at the top level).
	Group      string `json:"group"`
	GroupState string `json:"group_state"`
	// Counts counts every node below the group (the whole workflow at the
	// top level, groups included) by reported state: at the top level it
	// equals the histogram of `enqueue status -o json`'s node states.
	Counts map[string]int `json:"counts"`
	Total  int            `json:"total"`
	// Members are the level's nodes in plan order; in a Changes answer,
	// only the members that changed.
	Members []Member `json:"members"`
	Width   int      `json:"width"`
	Height  int      `json:"height"`
	// Cursor is handed back to Changes to get what changed after this
	// answer.
	Cursor string `json:"cursor"`
	// Full is false in a Changes answer that lists only changed members.
	Full bool `json:"full"`
}

// Level returns the members of group ("" for the top level) with their
// subtrees counted by state, laid out. Returns flow.ErrInvalidID,
// flow.ErrNotFound, or ErrNodeNotFound for a group path the workflow does
// not have.
func (s *Store) Level(ctx context.Context, wf, group string) (*Level, error) {
	return s.level(ctx, wf, group, time.Time{})
}

// Changes is Level restricted to the members whose subtree changed since
// cursor (a Level's or a Changes' Cursor): a node started or finished, or
// one of its River jobs was inserted, started, scheduled or finalized. The
// counts and the workflow are always current. A retry's resets carry no
// time, so a caller should ask for the full Level now and then (the page
// does every 15 s).
func (s *Store) Changes(ctx context.Context, wf, group, cursor string) (*Level, error) {
	since, err := time.Parse(time.RFC3339Nano, cursor)
	if err != nil {
		return nil, fmt.Errorf("%w %q", ErrBadCursor, cursor)
	}
	return s.level(ctx, wf, group, since.Add(-changesOverlap))
}

func (s *Store) level(ctx context.Context, wf, group string, since time.Time) (*Level, error) {
	if err := validateID(wf); err != nil {
		return nil, err
	}
	group = strings.Trim(group, "/")
	lv := &Level{Group: group, Counts: map[string]int{}, Full: since.IsZero()}
	err := s.read(ctx, func(tx pgx.Tx) error {
		head, err := headTx(ctx, tx, wf)
		if err != nil {
			return err
		}
		var now time.Time
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return err
		}
		lv.Cursor = now.UTC().Format(time.RFC3339Nano)
		groupIdx := int32(-1)
		if group != "" {
			var stored flowtype.NodeState
			err := tx.QueryRow(ctx, `SELECT idx, state FROM qf_node WHERE workflow_id = $1 AND path = $2`,
				wf, group).Scan(&groupIdx, &stored)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: %q", ErrNodeNotFound, group)
			}
			if err != nil {
				return err
			}
			lv.GroupState = string(stored)
			if stored == flowtype.NodeActive {
				lv.GroupState = string(flowtype.NodeRunning)
			}
		}
		nodes, err := nodesTx(ctx, tx, wf, group)
		if err != nil {
			return err
		}
		if group == "" {
			liveStatus(head, nodes)
			lv.GroupState = string(head.Status)
		}
		lv.Workflow = *head
		buildLevel(lv, nodes, groupIdx, since)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("level %q of workflow %s: %w", group, wf, err)
	}
	return lv, nil
}

// buildLevel fills lv from the nodes under the group (groupIdx, -1 for the
// top level): members, counts, layout; with a non-zero since, it keeps
// only the members whose subtree changed at or after since.
func buildLevel(lv *Level, nodes []nodeRow, groupIdx int32, since time.Time) {
	prefix := ""
	if lv.Group != "" {
		prefix = lv.Group + "/"
	}
	var members []Member
	byIdx := map[int32]int{}
	byName := map[string]int{}
	var memberDeps [][]int32
	for _, n := range nodes {
		if n.Parent != groupIdx {
			continue
		}
		m := Member{
			Index: len(members), Path: n.Path, Name: lastSegment(n.Path), Kind: n.Kind, State: n.State,
			JobID: n.JobID, Attempts: n.Attempts, StartedAt: optTime(n.StartedAt), FinishedAt: optTime(n.Finished),
			Deps: []string{}, DepIndex: []int{},
		}
		byIdx[n.Idx] = m.Index
		byName[m.Name] = m.Index
		members = append(members, m)
		memberDeps = append(memberDeps, n.Deps)
	}
	changed := make([]bool, len(members))
	for _, n := range nodes {
		lv.Counts[string(n.State)]++
		lv.Total++
		name, below, _ := strings.Cut(strings.TrimPrefix(n.Path, prefix), "/")
		i, ok := byName[name]
		if !ok {
			continue
		}
		if below != "" {
			m := &members[i]
			if m.Counts == nil {
				m.Counts = map[string]int{}
			}
			m.Counts[string(n.State)]++
			m.Descendants++
		}
		if !since.IsZero() && (after(n.StartedAt, since) || after(n.Finished, since) || !n.jobTouched.Before(since) && !n.jobTouched.IsZero()) {
			changed[i] = true
		}
	}
	deps := make([][]int, len(members))
	for i, ds := range memberDeps {
		for _, d := range ds {
			if j, ok := byIdx[d]; ok {
				deps[i] = append(deps[i], j)
				members[i].DepIndex = append(members[i].DepIndex, j)
				members[i].Deps = append(members[i].Deps, members[j].Name)
			}
		}
	}
	layout := LayoutLevel(len(members), deps)
	for i := range members {
		members[i].X, members[i].Y = layout.Pos[i].X, layout.Pos[i].Y
		members[i].LayerX0, members[i].LayerX1 = layout.Span[i][0], layout.Span[i][1]
	}
	lv.Width, lv.Height = layout.Width, layout.Height
	if since.IsZero() {
		lv.Members = members
		return
	}
	lv.Members = []Member{}
	for i, m := range members {
		if changed[i] {
			lv.Members = append(lv.Members, m)
		}
	}
}

func after(t *time.Time, since time.Time) bool { return t != nil && !t.Before(since) }
