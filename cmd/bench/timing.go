package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Timestamps: river_job.attempted_at is set by the fetch query (the
// database's now(), the start of the fetching transaction); finalized_at
// by River from the worker's clock when the job completes (for a job
// completed in a transaction, just before that transaction's statements).
// Bench, workers and PostgreSQL share one machine and one clock.

// jobStats summarises a phase's jobs.
type jobStats struct {
	completed, total int
	firstInsert      time.Time // min(created_at)
	firstStart       time.Time // min(attempted_at)
	lastFinish       time.Time // max(finalized_at) of completed jobs
}

func readJobStats(ctx context.Context, pool *pgxpool.Pool) (*jobStats, error) {
	var (
		js                      jobStats
		created, started, ended *time.Time
	)
	err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'completed'), count(*),
			min(created_at), min(attempted_at), max(finalized_at) FILTER (WHERE state = 'completed')
		FROM river_job`).Scan(&js.completed, &js.total, &created, &started, &ended)
	if err != nil {
		return nil, fmt.Errorf("read job timestamps: %w", err)
	}
	if created != nil {
		js.firstInsert = *created
	}
	if started != nil {
		js.firstStart = *started
	}
	if ended != nil {
		js.lastFinish = *ended
	}
	return &js, nil
}

// flowJobsSQL reads the start and finish of every completed job of a
// workflow node, tied to its node by its metadata (qf_wf, qf_n).
const flowJobsSQL = `
SELECT metadata->>'qf_wf', (metadata->>'qf_n')::int, attempted_at, finalized_at
FROM river_job
WHERE metadata->>'qf_wf' IS NOT NULL AND state = 'completed'`

// flowDepsSQL reads the deps of every leaf that has some, or of the leaf
// at path $1 only.
const flowDepsSQL = `
SELECT workflow_id::text, idx, deps FROM qf_node
WHERE kind IS NOT NULL AND cardinality(deps) > 0 AND ($1::text IS NULL OR path = $1)`

// riverChainLatenciesSQL is, for every hop of plain River's chain after
// the first, its start minus its predecessor's finish.
const riverChainLatenciesSQL = `
SELECT extract(epoch FROM c.attempted_at - p.finalized_at)::float8
FROM river_job c
JOIN river_job p ON p.kind = c.kind AND (p.args->>'hop')::int + 1 = (c.args->>'hop')::int
WHERE c.kind = 'bench_chain' AND c.state = 'completed' AND p.state = 'completed'`

// flowLatencies returns, in milliseconds, how long each released leaf
// waited: its job's start minus the last finish of its deps' jobs; path
// selects one node ("" for all). The join is done here rather than in SQL:
// right after TRUNCATE the planner has no statistics and picks nested
// loops over 100 000 rows.
func flowLatencies(ctx context.Context, pool *pgxpool.Pool, path string) ([]float64, error) {
	type key struct {
		wf  string
		idx int32
	}
	type times struct{ start, end time.Time }
	jobs := map[key]times{}
	rows, err := pool.Query(ctx, flowJobsSQL)
	if err != nil {
		return nil, fmt.Errorf("read node jobs: %w", err)
	}
	var (
		k    key
		t    times
		deps []int32
	)
	if _, err := pgx.ForEachRow(rows, []any{&k.wf, &k.idx, &t.start, &t.end}, func() error {
		jobs[k] = t
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read node jobs: %w", err)
	}
	var p *string
	if path != "" {
		p = &path
	}
	if rows, err = pool.Query(ctx, flowDepsSQL, p); err != nil {
		return nil, fmt.Errorf("read node deps: %w", err)
	}
	var out []float64
	if _, err := pgx.ForEachRow(rows, []any{&k.wf, &k.idx, &deps}, func() error {
		own, ok := jobs[k]
		if !ok {
			return fmt.Errorf("node %s/%d has no completed job", k.wf, k.idx)
		}
		var ready time.Time
		for _, d := range deps {
			dep, ok := jobs[key{k.wf, d}]
			if !ok {
				return fmt.Errorf("dep %d of node %s/%d has no completed job", d, k.wf, k.idx)
			}
			if dep.end.After(ready) {
				ready = dep.end
			}
		}
		out = append(out, float64(own.start.Sub(ready))/float64(time.Millisecond))
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read node deps: %w", err)
	}
	return out, nil
}

// riverChainLatencies returns the hop latencies of plain River's chain, in
// milliseconds (1 000 rows: the planner's choice does not matter).
func riverChainLatencies(ctx context.Context, pool *pgxpool.Pool) ([]float64, error) {
	return latencies(ctx, pool, riverChainLatenciesSQL)
}

func latencies(ctx context.Context, pool *pgxpool.Pool, sql string) ([]float64, error) {
	rows, err := pool.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("read latencies: %w", err)
	}
	secs, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return nil, fmt.Errorf("read latencies: %w", err)
	}
	for i := range secs {
		secs[i] *= 1000
	}
	return secs, nil
}

// addLatencies records p50, p95, p99, max and mean of ms under prefix.
func addLatencies(m map[string]float64, prefix string, ms []float64) error {
	if len(ms) == 0 {
		return fmt.Errorf("no %s latencies: no job started after its deps finished", prefix)
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	m[prefix+"_p50_ms"] = percentile(s, 50)
	m[prefix+"_p95_ms"] = percentile(s, 95)
	m[prefix+"_p99_ms"] = percentile(s, 99)
	m[prefix+"_max_ms"] = s[len(s)-1]
	m[prefix+"_mean_ms"] = sum / float64(len(s))
	m[prefix+"_count"] = float64(len(s))
	return nil
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
