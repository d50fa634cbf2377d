package console

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// TimelineMaxBars bounds the bars of a timeline answer; the longest bars
// (and every bar on the critical path) are kept beyond it.
const TimelineMaxBars = 20_000

// Timeline is the workflow's nodes on a time axis, with its critical path.
type Timeline struct {
	Workflow WorkflowHead `json:"workflow"`
	// Origin is the axis' zero: the workflow's start (its creation when it
	// never started). Bars are in milliseconds from it.
	Origin Time `json:"origin"`
	// MakespanMS is from the workflow's start to its finish (now while it
	// runs); CriticalMS the critical path's length: the least any
	// schedule could take.
	MakespanMS int64    `json:"makespan_ms"`
	CriticalMS int64    `json:"critical_ms"`
	Critical   []string `json:"critical"`
	Bars       []Bar    `json:"bars"`
	// Omitted counts the bars left out beyond TimelineMaxBars.
	Omitted int `json:"omitted"`
}

// Bar is one leaf that ran, or runs.
type Bar struct {
	Path     string `json:"path"`
	State    string `json:"state"`
	StartMS  int64  `json:"start_ms"`
	EndMS    int64  `json:"end_ms"`
	Running  bool   `json:"running,omitempty"`
	Critical bool   `json:"critical,omitempty"`
}

// Timeline returns the workflow's leaves that started, ordered by start,
// and its critical path (FindCriticalPath). Returns flow.ErrInvalidID or
// flow.ErrNotFound.
func (s *Store) Timeline(ctx context.Context, wf string) (*Timeline, error) {
	if err := validateID(wf); err != nil {
		return nil, err
	}
	tl := &Timeline{Bars: []Bar{}, Critical: []string{}}
	err := s.read(ctx, func(tx pgx.Tx) error {
		head, err := headTx(ctx, tx, wf)
		if err != nil {
			return err
		}
		var now time.Time
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return err
		}
		nodes, err := nodesTx(ctx, tx, wf, "")
		if err != nil {
			return err
		}
		liveStatus(head, nodes)
		tl.Workflow = *head
		buildTimeline(tl, nodes, now)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("timeline of workflow %s: %w", wf, err)
	}
	return tl, nil
}

func buildTimeline(tl *Timeline, nodes []nodeRow, now time.Time) {
	head := tl.Workflow
	origin := head.CreatedAt.Time
	if head.StartedAt != nil {
		origin = head.StartedAt.Time
	}
	for _, n := range nodes { // a job's start can precede the workflow's by a moment
		if n.Kind != nil && n.StartedAt != nil && n.StartedAt.Before(origin) {
			origin = *n.StartedAt
		}
	}
	end := now
	if head.FinishedAt != nil {
		end = head.FinishedAt.Time
	}
	tl.Origin = Time{origin}
	tl.MakespanMS = max(end.Sub(origin).Milliseconds(), 0)

	timed := make([]TimedNode, len(nodes))
	for i, n := range nodes {
		t := TimedNode{Idx: n.Idx, Parent: n.Parent, Path: n.Path, Leaf: n.Kind != nil, Deps: n.Deps}
		if n.Kind != nil && n.StartedAt != nil {
			t.Start, t.End = *n.StartedAt, now
			if n.Finished != nil && n.State.IsFinal() {
				t.End = *n.Finished
			}
		}
		timed[i] = t
	}
	cp := FindCriticalPath(timed)
	tl.CriticalMS = cp.Length.Milliseconds()
	tl.Critical = cp.Paths
	onPath := make(map[string]bool, len(cp.Paths))
	for _, p := range cp.Paths {
		onPath[p] = true
	}
	for i, n := range nodes {
		t := timed[i]
		if !t.Leaf || t.Start.IsZero() {
			continue
		}
		tl.Bars = append(tl.Bars, Bar{
			Path: n.Path, State: string(n.State), StartMS: t.Start.Sub(origin).Milliseconds(),
			EndMS: t.End.Sub(origin).Milliseconds(), Running: !n.State.IsFinal(), Critical: onPath[n.Path],
		})
	}
	if len(tl.Bars) > TimelineMaxBars {
		sort.SliceStable(tl.Bars, func(i, j int) bool {
			a, b := tl.Bars[i], tl.Bars[j]
			if a.Critical != b.Critical {
				return a.Critical
			}
			return a.EndMS-a.StartMS > b.EndMS-b.StartMS
		})
		tl.Omitted = len(tl.Bars) - TimelineMaxBars
		tl.Bars = tl.Bars[:TimelineMaxBars]
	}
	sort.SliceStable(tl.Bars, func(i, j int) bool {
		if tl.Bars[i].StartMS != tl.Bars[j].StartMS {
			return tl.Bars[i].StartMS < tl.Bars[j].StartMS
		}
		return tl.Bars[i].Path < tl.Bars[j].Path
	})
}
