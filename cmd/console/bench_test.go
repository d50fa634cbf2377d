package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// bigSpec is the 10 000-leaf, 3-level workflow: 10 groups of 10 groups of
// 100 leaves. Inside a subgroup leaf i waits for leaf i-10 (ten layers of
// ten); subgroup j waits for j-1, group i for i-2 (two lanes).
func bigSpec() *dag.Spec {
	spec := &dag.Spec{Name: "bench-10k"}
	for g := range 10 {
		group := dag.Node{ID: fmt.Sprintf("region-%d", g)}
		if g >= 2 {
			group.Deps = []string{fmt.Sprintf("region-%d", g-2)}
		}
		for s := range 10 {
			sub := dag.Node{ID: fmt.Sprintf("shard-%d", s)}
			if s > 0 {
				sub.Deps = []string{fmt.Sprintf("shard-%d", s-1)}
			}
			for l := range 100 {
				leaf := dag.Node{ID: fmt.Sprintf("task-%03d", l), Kind: "noop"}
				if l >= 10 {
					leaf.Deps = []string{fmt.Sprintf("task-%03d", l-10)}
				}
				sub.Nodes = append(sub.Nodes, leaf)
			}
			group.Nodes = append(group.Nodes, sub)
		}
		spec.Nodes = append(spec.Nodes, group)
	}
	return spec
}

// wideSpec has one group of 1000 members: a start, 998 members after it,
// and an end after all of them (1996 edges).
func wideSpec() *dag.Spec {
	fan := dag.Node{ID: "fan", Nodes: []dag.Node{{ID: "start", Kind: "noop"}}}
	var mids []string
	for i := range 998 {
		id := fmt.Sprintf("w%03d", i)
		mids = append(mids, id)
		fan.Nodes = append(fan.Nodes, dag.Node{ID: id, Kind: "noop", Deps: []string{"start"}})
	}
	fan.Nodes = append(fan.Nodes, dag.Node{ID: "end", Kind: "noop", Deps: mids})
	return &dag.Spec{Name: "bench-wide", Nodes: []dag.Node{{ID: "before", Kind: "noop"}, fan}}
}

// BenchmarkBrowser measures the console's pages in headless Chromium on a
// database holding 100 000 workflows, a 10 000-leaf 3-level workflow and
// a workflow with a 1 000-member group (docs/CONSOLE.md, "Speed"):
//
//	go test -run '^$' -bench Browser -benchtime 1x ./cmd/console/
//
// The numbers are medians over several loads, measured in the page:
// list-ms from navigation start to the load event; graph-ms from
// navigation start to the level drawn (fetched, laid out, painted);
// expand-*-ms from the click to the group's level drawn.
func BenchmarkBrowser(b *testing.B) {
	ensureBrowser(b)
	db := pgtest.New(b)
	ctx := context.Background()
	client, err := flow.NewClient(db.Pool, nil)
	require.NoError(b, err)

	start := time.Now()
	big, err := client.Submit(ctx, bigSpec(), nil)
	require.NoError(b, err)
	wide, err := client.Submit(ctx, wideSpec(), nil)
	require.NoError(b, err)
	// Colour the big one as if it ran a while (the drawing's cost does not
	// depend on the states, the reads barely).
	_, err = db.Pool.Exec(ctx, `
UPDATE qf_node SET state = CASE WHEN idx % 10 < 5 THEN 'completed' WHEN idx % 10 = 5 THEN 'failed' ELSE state END,
       finished_at = now()
WHERE workflow_id = $1 AND kind IS NOT NULL AND state IN ('waiting', 'enqueued') AND idx % 10 <= 5`, big.ID)
	require.NoError(b, err)
	_, err = db.Pool.Exec(ctx, `
INSERT INTO qf_workflow (id, name, spec_hash, status, node_count, remaining, created_at, started_at, finished_at)
SELECT gen_random_uuid(), (ARRAY['nightly-etl', 'hourly-sync', 'invoice-batch', 'thumbnail-render'])[1 + i % 4] || '-' || i, 'h',
       (ARRAY['completed', 'completed', 'completed', 'failed', 'cancelled', 'running'])[1 + i % 6], 12, 0,
       now() - make_interval(secs => i * 7), now() - make_interval(secs => i * 7),
       CASE WHEN i % 6 < 5 THEN now() - make_interval(secs => i * 7) + interval '90 seconds' END
FROM generate_series(1, 100000) AS i`)
	require.NoError(b, err)
	_, err = db.Pool.Exec(ctx, `ANALYZE qf_workflow; ANALYZE qf_node`)
	require.NoError(b, err)
	b.Logf("seeded in %s", time.Since(start).Round(time.Millisecond))

	base := startConsole(b, db, map[string]string{"QF_CONSOLE_TOKEN": "op-token"})
	b.ResetTimer()
	lines := runNode(b, "bench.mjs", map[string]string{
		"QF_BASE": base, "QF_OPERATOR": "op-token", "QF_BIG": big.ID, "QF_WIDE": wide.ID,
	})
	b.StopTimer()
	for _, line := range lines {
		name, v, ok := strings.Cut(strings.TrimPrefix(line, "metric: "), " ")
		if !ok || !strings.HasPrefix(line, "metric: ") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(b, err, line)
		b.ReportMetric(f, name)
	}
}
