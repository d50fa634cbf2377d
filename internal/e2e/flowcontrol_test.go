package e2e

import (
	"context"
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
