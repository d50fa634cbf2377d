package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func leaf(path, kind, state string, attempts int, startMS, endMS int) flow.NodeStatus {
	n := flow.NodeStatus{ID: path, Kind: &kind, State: flowtype.NodeState(state), Attempts: attempts}
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		n.Parent = path[:i]
	}
	if startMS >= 0 {
		s := t0.Add(time.Duration(startMS) * time.Millisecond)
		n.StartedAt = &s
	}
	if endMS >= 0 {
		e := t0.Add(time.Duration(endMS) * time.Millisecond)
		n.FinishedAt = &e
	}
	return n
}

func group(path, state string, endMS int) flow.NodeStatus {
	n := leaf(path, "", state, 0, -1, endMS)
	n.Kind = nil
	return n
}

// fixture is a failed workflow: a group with a nested group, a failed leaf,
// its cancelled dependent and a running leaf.
func fixture() *flow.WorkflowStatus {
	boom := "fail: attempt 2 (times -1): planned failure\nsecond line"
	nodes := []flow.NodeStatus{
		leaf("fetch", "echo", "completed", 1, 0, 12),
		group("per-region", "failed", 900),
		leaf("per-region/eu", "sleep", "completed", 1, 20, 70),
		group("per-region/inner", "completed", 300),
		leaf("per-region/inner/x", "noop", "completed", 1, 100, 300),
		leaf("per-region/flaky", "fail", "failed", 2, 800, 900),
		leaf("report", "echo", "cancelled", 0, -1, 950),
		leaf("side", "sleep", "running", 1, 500, -1),
	}
	nodes[5].Error = &boom
	return &flow.WorkflowStatus{ID: someID, Name: "hello", Status: "running", CreatedAt: t0, Nodes: nodes}
}

func TestRenderTree(t *testing.T) {
	t.Parallel()
	now := t0.Add(2 * time.Second)
	tests := []struct {
		name string
		opts treeOpts
		want string
	}{
		{"all", treeOpts{now: now}, `
NODE           KIND   STATE      ATTEMPTS  DURATION  ERROR
├─ fetch       echo   completed  1         12ms
├─ per-region  group  failed               880ms
│  ├─ eu       sleep  completed  1         50ms
│  ├─ inner    group  completed            200ms
│  │  └─ x     noop   completed  1         200ms
│  └─ flaky    fail   failed     2         100ms     fail: attempt 2 (times -1): planned failure ...
├─ report      echo   cancelled  0
└─ side        sleep  running    1         for 1.5s
`},
		{"max nodes collapses per level", treeOpts{now: now, maxNodes: 3}, `
NODE           KIND   STATE      ATTEMPTS  DURATION  ERROR
├─ fetch       echo   completed  1         12ms
├─ per-region  group  failed               880ms
│  ├─ eu       sleep  completed  1         50ms
│  └─ … 3 more: 2 completed, 1 failed
└─ … 2 more: 1 cancelled, 1 running

3 of 8 nodes shown; --max-nodes 0 shows all, --failed only the failures
`},
		{"failed only keeps the groups above", treeOpts{now: now, failedOnly: true}, `
NODE           KIND   STATE      ATTEMPTS  DURATION  ERROR
├─ per-region  group  failed               880ms
│  └─ flaky    fail   failed     2         100ms     fail: attempt 2 (times -1): planned failure ...
└─ report      echo   cancelled  0
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			require.NoError(t, renderTree(&buf, fixture(), tt.opts))
			require.Equal(t, strings.TrimPrefix(tt.want, "\n"), buf.String())
		})
	}

	t.Run("failed only without failures", func(t *testing.T) {
		t.Parallel()
		st := &flow.WorkflowStatus{Nodes: []flow.NodeStatus{leaf("a", "noop", "completed", 1, 0, 1)}}
		var buf bytes.Buffer
		require.NoError(t, renderTree(&buf, st, treeOpts{failedOnly: true}))
		require.Equal(t, "no failed or cancelled nodes\n", buf.String())
	})

	t.Run("long errors are cut", func(t *testing.T) {
		t.Parallel()
		long := strings.Repeat("é", 500)
		st := &flow.WorkflowStatus{Nodes: []flow.NodeStatus{leaf("a", "fail", "failed", 1, 0, 1)}}
		st.Nodes[0].Error = &long
		var buf bytes.Buffer
		require.NoError(t, renderTree(&buf, st, treeOpts{}))
		require.Contains(t, buf.String(), strings.Repeat("é", maxErrorRunes-1)+"…\n")
	})
}

func TestFinishedListsFailures(t *testing.T) {
	t.Parallel()
	var nodes []flow.NodeStatus
	for i := range 25 {
		n := leaf(fmt.Sprintf("g/n%02d", i), "fail", "failed", 3, 0, 10)
		msg := fmt.Sprintf("boom %d", i)
		n.Error = &msg
		nodes = append(nodes, n)
	}
	end := t0.Add(4100 * time.Millisecond)
	st := &flow.WorkflowStatus{ID: someID, Name: "many", Status: "failed", CreatedAt: t0, FinishedAt: &end,
		Nodes: append([]flow.NodeStatus{group("g", "failed", 10)}, nodes...)}
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, now: time.Now}
	err := a.finished(st, progress{status: st.Status, total: len(st.Nodes), final: len(st.Nodes), failed: 25, elapsed: end.Sub(t0)}, outText)
	require.Error(t, err)
	require.Equal(t, 4, cliutil.CodeOf(err))
	out := stderr.String()
	require.Contains(t, out, "workflow "+someID+" (many) failed after 4.1s: 26 failed\n")
	require.Contains(t, out, "  g/n00 failed after 3 attempts: boom 0\n")
	require.Contains(t, out, "  g/n19 failed after 3 attempts: boom 19\n")
	require.NotContains(t, out, "g/n20")
	require.Contains(t, out, "... and 5 more (enqueue status "+someID+" --failed lists them all)")
	require.Empty(t, stdout.String())
}

func TestReporters(t *testing.T) {
	t.Parallel()
	p := progress{status: "running", total: 5002, final: 812, failed: 0, elapsed: 4100 * time.Millisecond}
	require.Equal(t, "running: 812/5002 nodes final, 0 failed, 4.1s", p.String())

	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		r := &plainReporter{w: &buf}
		r.update(p)
		r.update(p) // within plainInterval: not printed
		done := p
		done.status, done.final = "completed", 5002
		r.finish(done)
		require.Equal(t, "running: 812/5002 nodes final, 0 failed, 4.1s\ncompleted: 5002/5002 nodes final, 0 failed, 4.1s\n", buf.String())
	})

	t.Run("bar", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		r := &barReporter{w: &buf}
		r.update(progress{status: "running", total: 10, final: 10}) // not final yet: the bar must not finish
		require.Contains(t, buf.String(), "(9/10)")
		r.update(progress{status: "running", total: 12, final: 4, failed: 1}) // an expansion added nodes
		require.Contains(t, buf.String(), "(4/12) running   1 failed")
		r.finish(progress{status: "failed", total: 12, final: 12, failed: 2})
		require.Contains(t, buf.String(), "100%")
		require.Contains(t, buf.String(), "(12/12) failed    2 failed")
		require.True(t, strings.HasSuffix(buf.String(), "\n"))
	})
}

func TestFmtDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		812 * time.Millisecond:                       "812ms",
		4100 * time.Millisecond:                      "4.1s",
		2*time.Minute + 3*time.Second:                "2m03s",
		3*time.Hour + 5*time.Minute + 10*time.Second: "3h05m",
	} {
		require.Equal(t, want, fmtDuration(d))
	}
}

func TestTransient(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("status of x: %w", flow.ErrNotFound), false},
		{fmt.Errorf("status of x: %w", &pgconn.PgError{Code: "42P01"}), false}, // undefined table
		{fmt.Errorf("status of x: %w", &pgconn.PgError{Code: "57P01"}), true},  // admin shutdown
		{fmt.Errorf("status of x: %w", &pgconn.PgError{Code: "08006"}), true},  // connection failure
		{fmt.Errorf("status of x: %w", &pgconn.PgError{Code: "53300"}), true},  // too many connections
		{errors.New("failed to connect to `host=127.0.0.1`: dial error"), true},
	} {
		require.Equal(t, tt.want, transient(tt.err), "%v", tt.err)
	}
}
