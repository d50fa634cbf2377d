package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/console"
	"github.com/quantumflow/quantumflow/internal/console/consoletest"
)

// seedWorkflows inserts n workflow rows directly (no nodes), one a second
// back from base, named name-<i%7>-<i>, with statuses cycling.
func seedWorkflows(t *testing.T, b *bundle, n int, base time.Time) {
	t.Helper()
	_, err := b.db.Pool.Exec(t.Context(), `
INSERT INTO qf_workflow (id, name, spec_hash, status, node_count, remaining, created_at, started_at, finished_at)
SELECT gen_random_uuid(), 'name-' || (i % 7) || '-' || i, 'h',
       (ARRAY['pending', 'running', 'completed', 'failed', 'cancelled'])[1 + i % 5], 3, 0,
       $2::timestamptz - make_interval(secs => i), $2::timestamptz - make_interval(secs => i),
       CASE WHEN i % 5 >= 2 THEN $2::timestamptz - make_interval(secs => i) + interval '1 second' END
FROM generate_series(0, $1 - 1) AS i`, n, base)
	require.NoError(t, err)
}

// TestListPaging: keyset pages visit every row exactly once, newest
// first, with and without each filter; the filters keep exactly the rows
// they name.
func TestListPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, testCreds)
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	seedWorkflows(t, b, 230, base)
	// Ties on created_at are ordered by id: add 5 rows at one instant.
	_, err := b.db.Pool.Exec(t.Context(), `
INSERT INTO qf_workflow (id, name, spec_hash, status, node_count, remaining, created_at)
SELECT gen_random_uuid(), 'tie', 'h', 'pending', 1, 1, $1 FROM generate_series(1, 5)`, base.Add(-100*time.Second))
	require.NoError(t, err)

	after, before := base.Add(-150*time.Second), base.Add(-20*time.Second)
	tests := []struct {
		name   string
		params console.ListParams
		keep   func(console.ListRow) bool
		want   int
	}{
		{"all", console.ListParams{}, func(console.ListRow) bool { return true }, 235},
		{"status", console.ListParams{Status: flowtype.WorkflowFailed}, func(w console.ListRow) bool { return w.Status == "failed" }, 46},
		{"name prefix", console.ListParams{NamePrefix: "name-3-"}, func(w console.ListRow) bool { return len(w.Name) > 7 && w.Name[:7] == "name-3-" }, 33},
		{"time range", console.ListParams{CreatedAfter: &after, CreatedBefore: &before}, func(w console.ListRow) bool {
			return !w.CreatedAt.Before(after) && w.CreatedAt.Before(before)
		}, 135},
		{"all filters", console.ListParams{Status: flowtype.WorkflowPending, NamePrefix: "name-", CreatedAfter: &after},
			func(w console.ListRow) bool {
				return w.Status == "pending" && !w.CreatedAt.Before(after) && w.Name != "tie"
			}, 31},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.params
			p.Limit = 17
			seen := map[string]bool{}
			var last *console.ListRow
			for pages := 0; ; pages++ {
				require.Less(t, pages, 100)
				page, err := b.store.List(t.Context(), &p)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page.Workflows), 17)
				for i := range page.Workflows {
					w := page.Workflows[i]
					require.False(t, seen[w.ID], "row %s twice", w.ID)
					seen[w.ID] = true
					require.True(t, tt.keep(w), "row %s (%s, %s) does not match", w.Name, w.Status, w.CreatedAt)
					if last != nil {
						require.True(t, w.CreatedAt.Before(last.CreatedAt.Time) || w.CreatedAt.Equal(last.CreatedAt.Time) && w.ID < last.ID,
							"newest first, then by id")
					}
					last = &w
				}
				if page.Next == "" {
					break
				}
				p.Cursor = page.Next
			}
			require.Len(t, seen, tt.want)
		})
	}

	_, err = b.store.List(t.Context(), &console.ListParams{Cursor: "garbage"})
	require.ErrorIs(t, err, console.ErrBadCursor)
	c := b.caller(t)
	c.login("view-secret")
	code, _ := c.do("GET", "/api/workflows?cursor=garbage", nil)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = c.do("GET", "/api/workflows?status=paused", nil)
	require.Equal(t, http.StatusBadRequest, code)
	code, body := c.do("GET", "/api/workflows?status=failed&limit=3", nil)
	require.Equal(t, http.StatusOK, code)
	var page console.ListPage
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	require.Len(t, page.Workflows, 3)
	require.NotEmpty(t, page.Next)
}

const levelSpec = `
name: levels
nodes:
  - {id: prep, kind: echo, args: {step: 1}}
  - id: batch
    deps: [prep]
    nodes:
      - {id: x1, kind: echo}
      - {id: x2, kind: echo}
      - {id: slow, kind: gate, args: {name: slow}}
      - id: inner
        nodes:
          - {id: deep, kind: gate, args: {name: deep}}
          - {id: deeper, kind: noop, deps: [deep]}
  - {id: broken, kind: fail, args: {times: -1}, max_attempts: 2}
  - {id: after-broken, kind: noop, deps: [broken]}
  - {id: finish, kind: echo, deps: [batch]}
`

// TestLevelMatchesStatus: a level's counts are the histogram of flow's
// Status over the same subtree, while the workflow runs and once it is
// done; members carry their deps and subtree counts.
func TestLevelMatchesStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, testCreds)
	consoletest.StartWorker(t, b.db.Pool, b.client, b.gates)
	wf := consoletest.Submit(t, b.client, levelSpec)
	consoletest.Eventually(t, b.client, wf, time.Minute, "gates running, broken failed", func(st *flow.WorkflowStatus) bool {
		s := consoletest.States(st)
		return s["batch/slow"] == "running" && s["batch/inner/deep"] == "running" && s["after-broken"] == "cancelled" &&
			s["batch/x1"] == "completed" && s["batch/x2"] == "completed"
	})

	check := func(phase string) {
		st, err := b.client.Status(t.Context(), wf)
		require.NoError(t, err)
		top, err := b.store.Level(t.Context(), wf, "")
		require.NoError(t, err)
		require.Equal(t, consoletest.Histogram(st, ""), top.Counts, phase)
		require.Equal(t, len(st.Nodes), top.Total)
		require.Equal(t, st.Status, top.Workflow.Status)
		names := []string{}
		for _, m := range top.Members {
			names = append(names, m.Name)
		}
		require.Equal(t, []string{"prep", "batch", "broken", "after-broken", "finish"}, names)
		states := consoletest.States(st)
		for _, m := range top.Members {
			require.Equal(t, states[m.Path], string(m.State), "%s: %s", phase, m.Path)
		}
		batch := top.Members[1]
		require.Equal(t, []string{"prep"}, batch.Deps)
		require.Equal(t, []int{0}, batch.DepIndex)
		require.Equal(t, 6, batch.Descendants)
		require.Equal(t, consoletest.Histogram(st, "batch/"), batch.Counts, phase)
		require.Greater(t, batch.X, top.Members[0].X, "a dependent is drawn right of its dep")

		lv, err := b.store.Level(t.Context(), wf, "batch")
		require.NoError(t, err)
		require.Equal(t, consoletest.Histogram(st, "batch/"), lv.Counts, phase)
		require.Len(t, lv.Members, 4)
		require.Equal(t, "batch/inner", lv.Members[3].Path)
		require.Equal(t, consoletest.Histogram(st, "batch/inner/"), lv.Members[3].Counts)
		require.Equal(t, states["batch"], lv.GroupState)
	}
	check("running")
	b.gates.Open("slow")
	b.gates.Open("deep")
	consoletest.Eventually(t, b.client, wf, time.Minute, "finished", func(st *flow.WorkflowStatus) bool { return st.Status.IsFinal() })
	check("finished")

	_, err := b.store.Level(t.Context(), wf, "nope")
	require.ErrorIs(t, err, console.ErrNodeNotFound)
	_, err = b.store.Level(t.Context(), "5e0c0a47-7a3b-4d0a-9d7e-3f3f3f3f3f3f", "")
	require.ErrorIs(t, err, flow.ErrNotFound)
	_, err = b.store.Level(t.Context(), "not-a-uuid", "")
	require.ErrorIs(t, err, flow.ErrInvalidID)
}

// TestChanges: a Changes answer lists only members whose subtree changed
// since the cursor, and carries current counts.
func TestChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, testCreds)
	consoletest.StartWorker(t, b.db.Pool, b.client, b.gates)
	wf := consoletest.Submit(t, b.client, `
name: changes
nodes:
  - {id: a, kind: gate, args: {name: a}}
  - id: g
    nodes:
      - {id: b, kind: gate, args: {name: b}}
  - {id: c, kind: gate, args: {name: c}}
`)
	consoletest.Eventually(t, b.client, wf, time.Minute, "all running", func(st *flow.WorkflowStatus) bool {
		s := consoletest.States(st)
		return s["a"] == "running" && s["g/b"] == "running" && s["c"] == "running"
	})
	// Wait past the overlap window, so the start of the jobs is out of it.
	time.Sleep(5500 * time.Millisecond)
	lv, err := b.store.Level(t.Context(), wf, "")
	require.NoError(t, err)
	require.True(t, lv.Full)
	quiet, err := b.store.Changes(t.Context(), wf, "", lv.Cursor)
	require.NoError(t, err)
	require.False(t, quiet.Full)
	require.Empty(t, quiet.Members, "nothing changed")
	require.Equal(t, lv.Counts, quiet.Counts)

	b.gates.Open("b")
	consoletest.Eventually(t, b.client, wf, time.Minute, "g completed", func(st *flow.WorkflowStatus) bool {
		return consoletest.States(st)["g"] == "completed"
	})
	ch, err := b.store.Changes(t.Context(), wf, "", quiet.Cursor)
	require.NoError(t, err)
	require.Len(t, ch.Members, 1, "only g changed: %+v", ch.Members)
	require.Equal(t, "g", ch.Members[0].Path)
	require.Equal(t, flowtype.NodeCompleted, ch.Members[0].State)
	require.Equal(t, 2, ch.Counts["completed"])

	_, err = b.store.Changes(t.Context(), wf, "", "yesterday")
	require.ErrorIs(t, err, console.ErrBadCursor)
}

// TestNodeAndTimeline: a failed node's panel has its attempts with their
// errors and its River job; the timeline's critical path runs through the
// longest chain and fits in the makespan.
func TestNodeAndTimeline(t *testing.T) {
	t.Parallel()
	b := setup(t, testCreds)
	consoletest.StartWorker(t, b.db.Pool, b.client, b.gates)
	wf := consoletest.Submit(t, b.client, `
name: timeline
nodes:
  - {id: a, kind: sleep, args: {ms: 50}}
  - {id: long, kind: sleep, args: {ms: 400}, deps: [a]}
  - {id: short, kind: sleep, args: {ms: 10}, deps: [a]}
  - {id: z, kind: echo, deps: [long, short]}
  - {id: flaky, kind: fail, args: {times: 2}, max_attempts: 3}
  - {id: bad, kind: fail, args: {times: -1}, max_attempts: 2}
`)
	st := consoletest.Eventually(t, b.client, wf, time.Minute, "finished", func(st *flow.WorkflowStatus) bool { return st.Status.IsFinal() })
	require.Equal(t, flowtype.WorkflowFailed, st.Status)

	d, err := b.store.Node(t.Context(), wf, "bad")
	require.NoError(t, err)
	require.Equal(t, flowtype.NodeFailed, d.State)
	require.Equal(t, "fail", *d.Kind)
	require.JSONEq(t, `{"times": -1}`, string(d.Args))
	require.NotNil(t, d.JobID)
	require.NotNil(t, d.Error)
	require.Len(t, d.Jobs, 1)
	require.Len(t, d.Jobs[0].Attempts, 2)
	for i, a := range d.Jobs[0].Attempts {
		require.Equal(t, i+1, a.Number)
		require.Contains(t, *a.Error, "planned failure")
		require.NotNil(t, a.At)
	}
	require.Equal(t, "discarded", d.Jobs[0].Attempts[1].Outcome)

	d, err = b.store.Node(t.Context(), wf, "flaky")
	require.NoError(t, err)
	require.Equal(t, flowtype.NodeCompleted, d.State)
	require.Len(t, d.Jobs[0].Attempts, 3)
	require.Equal(t, "completed", d.Jobs[0].Attempts[2].Outcome)
	require.NotNil(t, d.Jobs[0].Attempts[2].StartedAt)

	_, err = b.store.Node(t.Context(), wf, "missing")
	require.ErrorIs(t, err, console.ErrNodeNotFound)

	tl, err := b.store.Timeline(t.Context(), wf)
	require.NoError(t, err)
	require.Len(t, tl.Bars, 6)
	require.Equal(t, []string{"a", "long", "z"}, tl.Critical)
	require.GreaterOrEqual(t, tl.CriticalMS, int64(450))
	require.GreaterOrEqual(t, tl.MakespanMS, tl.CriticalMS)
	for _, bar := range tl.Bars {
		require.Equal(t, bar.Path == "a" || bar.Path == "long" || bar.Path == "z", bar.Critical, bar.Path)
		require.LessOrEqual(t, bar.StartMS, bar.EndMS)
	}
}

// TestAPI: the JSON API's answers and error statuses.
func TestAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, testCreds)
	consoletest.StartWorker(t, b.db.Pool, b.client, b.gates)
	wf := consoletest.Submit(t, b.client, "name: api\nnodes:\n  - {id: g, nodes: [{id: a, kind: gate, args: {name: api}}]}\n")
	consoletest.Eventually(t, b.client, wf, time.Minute, "running", func(st *flow.WorkflowStatus) bool {
		return consoletest.States(st)["g/a"] == "running"
	})
	c := b.caller(t)
	c.header.Set("Authorization", "Bearer op-secret")
	get := func(path string, code int) map[string]any {
		t.Helper()
		got, body := c.do("GET", path, nil)
		require.Equal(t, code, got, "%s: %s", path, body)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &v), body)
		return v
	}
	w := get("/api/workflows/"+wf, http.StatusOK)
	require.Equal(t, "running", w["status"])
	require.Equal(t, map[string]any{"running": 2.0}, w["counts"])
	g := get("/api/workflows/"+wf+"/graph?group=g", http.StatusOK)
	require.Len(t, g["members"], 1)
	cur := g["cursor"].(string)
	d := get(fmt.Sprintf("/api/workflows/%s/graph?group=g&since=%s", wf, cur), http.StatusOK)
	require.Equal(t, false, d["full"])
	n := get("/api/workflows/"+wf+"/node?path=g/a", http.StatusOK)
	require.Equal(t, "gate", n["kind"])
	require.Equal(t, "running", n["state"])
	get("/api/workflows/"+wf+"/timeline", http.StatusOK)

	get("/api/workflows/not-a-uuid", http.StatusBadRequest)
	get("/api/workflows/5e0c0a47-7a3b-4d0a-9d7e-3f3f3f3f3f3f", http.StatusNotFound)
	get("/api/workflows/"+wf+"/graph?group=nope", http.StatusNotFound)
	get("/api/workflows/"+wf+"/node", http.StatusBadRequest)
	get("/api/workflows/"+wf+"/node?path=nope", http.StatusNotFound)

	post := func(path string, code int) map[string]any {
		t.Helper()
		got, body := c.do("POST", path, nil)
		require.Equal(t, code, got, "%s: %s", path, body)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &v), body)
		return v
	}
	post("/api/workflows/"+wf+"/retry", http.StatusConflict)
	post("/api/workflows/"+wf+"/explode", http.StatusNotFound)
	post("/api/workflows/"+wf+"/nodes/explode?path=g/a", http.StatusNotFound)
	post("/api/workflows/"+wf+"/nodes/cancel?path=nope", http.StatusNotFound)
	post("/api/workflows/"+wf+"/nodes/cancel?path=g", http.StatusConflict) // a group: cancel its leaves
	res := post("/api/workflows/"+wf+"/cancel", http.StatusOK)
	require.Equal(t, map[string]any{"id": wf, "nodes": 2.0, "jobs": 1.0}, res)
	post("/api/workflows/"+wf+"/cancel", http.StatusConflict)
	post("/api/workflows/"+wf+"/retry?mode=sideways", http.StatusBadRequest)
	res = post("/api/workflows/"+wf+"/retry?mode=all", http.StatusOK)
	require.Equal(t, "all", res["mode"])
	require.Equal(t, 2.0, res["nodes"])

	// The pages render.
	for _, p := range []string{"/", "/?status=running&name=a", "/workflows/" + wf, "/workflows/" + wf + "/timeline"} {
		code, body := c.do("GET", p, nil)
		require.Equal(t, http.StatusOK, code, "%s: %s", p, body)
	}
	code, _ := c.do("GET", "/workflows/5e0c0a47-7a3b-4d0a-9d7e-3f3f3f3f3f3f", nil)
	require.Equal(t, http.StatusNotFound, code)
}
