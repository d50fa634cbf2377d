package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConcurrencyLimitSurvivesKill runs 300 sleep nodes of three workflows
// sharing one concurrency key with limit 4 on three worker processes, and
// SIGKILLs one of them mid-run: no slot leaks (the last nodes still run, and
// the key holds no slot at the end), River's own timestamps never show more
// than 4 of the nodes running at once, and every node is done exactly once.
func TestConcurrencyLimitSurvivesKill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	args := func(id string) []string {
		return []string{"--id", id, "--heartbeat-interval", chaosHeartbeat, "--dead-after", chaosDeadAfter.String(), "--queues", "default=20"}
	}
	w0 := e.startWorker(t, args("slots-0")...)
	e.startWorker(t, args("slots-1")...)
	e.startWorker(t, args("slots-2")...)

	var ids []string
	for i := range 3 {
		var b strings.Builder
		fmt.Fprintf(&b, "name: slots%d\ninput: {api: embed}\ndefaults:\n  max_attempts: 5\n  concurrency: {key: \"{{input.api}}\", limit: 4}\nnodes:\n", i)
		for n := range 100 {
			fmt.Fprintf(&b, "  - {id: s%d, kind: sleep, args: {ms: 150}}\n", n)
		}
		ids = append(ids, e.submit(writeFile(t, fmt.Sprintf("slots%d.yaml", i), b.String())))
	}
	// Kill slots-0 while it runs some of the key's jobs, after a fifth of
	// the nodes: the slots those jobs hold must come back through the
	// dead-worker sweep's handback, not leak.
	var running int
	waitFor(t, time.Minute, "slots-0 running a keyed job after a fifth of the nodes", func() bool {
		var done int
		require.NoError(t, e.Pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM qf_node WHERE state = 'completed'),
       (SELECT count(*) FROM river_job WHERE state = 'running' AND attempted_by[cardinality(attempted_by)] = 'slots-0')`).Scan(&done, &running))
		return done >= 60 && running > 0
	})
	w0.kill()
	w0.wait(10 * time.Second)
	t.Logf("killed slots-0 holding %d running jobs", running)
	require.Positive(t, running)

	waitFor(t, 3*time.Minute, "the three workflows", func() bool {
		for _, id := range ids {
			if s := workflowStatus(t, e.Pool, id); s == "running" || s == "pending" {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		require.Equal(t, "completed", workflowStatus(t, e.Pool, id))
		checkDoneOnce(t, e.Pool, id, 100)
	}

	rows, err := e.Pool.Query(ctx, `SELECT attempted_at, finalized_at FROM river_job WHERE kind = 'sleep'`)
	require.NoError(t, err)
	type ev struct {
		at    time.Time
		delta int
	}
	var evs []ev
	for rows.Next() {
		var start, end time.Time
		require.NoError(t, rows.Scan(&start, &end))
		evs = append(evs, ev{start, 1}, ev{end, -1})
	}
	require.NoError(t, rows.Err())
	require.Len(t, evs, 600)
	sort.Slice(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return evs[i].delta < evs[j].delta
	})
	cur, most := 0, 0
	for _, e := range evs {
		cur += e.delta
		most = max(most, cur)
	}
	require.LessOrEqual(t, most, 4, "jobs of the key running at once")

	var held, queued int
	require.NoError(t, e.Pool.QueryRow(ctx,
		`SELECT (SELECT held FROM qf_concurrency WHERE key = 'embed'), (SELECT count(*) FROM qf_throttled)`).Scan(&held, &queued))
	require.Zero(t, held, "slots held after every node finished")
	require.Zero(t, queued)
}

// TestFlowControlCommands drives the flow-control commands as a script
// would, with -o json, against a worker process: why names the deps a node
// waits for and a pause; pause and resume change status and list; cancel
// --node cancels one leaf and the workflow fails by it; retry --node
// reruns it and the workflow completes.
func TestFlowControlCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startWorker(t)
	id := e.submit(writeFile(t, "cli.yaml", `
name: cli
nodes:
  - {id: a, kind: sleep, args: {ms: 1500}}
  - {id: b, kind: noop, deps: [a]}
  - {id: c, kind: noop, deps: [b]}
`))
	jsonOf := func(args ...string) map[string]any {
		t.Helper()
		r := e.enqueue(args...)
		require.Equal(t, exitOK, r.code, "%s", r)
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), "%s", r.stdout)
		return out
	}
	why := jsonOf("why", id, "b", "-o", "json")
	require.Equal(t, id, why["id"])
	nodes := why["nodes"].([]any)
	require.Len(t, nodes, 1)
	require.Equal(t, map[string]any{"id": "b", "state": "waiting", "reason": "deps", "detail": "waiting for a (enqueued)"}, nodes[0])

	p := jsonOf("pause", id, "-o", "json")
	require.Equal(t, map[string]any{"target": "workflow " + id, "paused": true, "changed": true, "jobs": float64(0)}, p)
	require.Equal(t, true, e.statusJSON(id)["paused"])
	var list []map[string]any
	r := e.enqueue("list", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &list), "%s", r)
	require.Equal(t, true, list[0]["paused"])
	waitFor(t, time.Minute, "b paused", func() bool {
		for _, n := range jsonOf("why", id, "-o", "json")["nodes"].([]any) {
			if m := n.(map[string]any); m["id"] == "b" && m["reason"] == "paused" {
				return true
			}
		}
		return false
	})
	// c waits for b, which waits for the pause: cancel it now, without a race.
	require.Equal(t, map[string]any{"id": id, "node": "c", "nodes": float64(1), "jobs": float64(0)}, jsonOf("cancel", id, "--node", "c", "-o", "json"))
	require.Equal(t, map[string]any{"target": "workflow " + id, "paused": false, "changed": true, "jobs": float64(1)}, jsonOf("resume", id, "-o", "json"))
	r = e.enqueue("wait", id)
	require.Equal(t, exitWorkflowFailed, r.code, "c was cancelled: %s", r)
	require.Equal(t, exitOK, e.enqueue("retry", id, "--node", "c", "--wait").code)
	require.Equal(t, "completed", workflowStatus(t, e.Pool, id))

	r = e.enqueue("pause", id, "--kind", "noop")
	require.Equal(t, 2, r.code, "a workflow and a kind at once is a usage error: %s", r)
}
