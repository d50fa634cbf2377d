package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/jobs"
)

// drainPhase is plain River draining n no-op jobs inserted beforehand with
// River's own bulk insert (InsertManyFast, COPY).
func (b *bench) drainPhase(shape, label string, n int) phase {
	return phase{
		shape: shape, label: label, mode: modeRiver, nodes: n, jobs: n, spanFrom: fromFirstStart,
		setup: func(ctx context.Context) error {
			got, err := b.insert.InsertManyFast(ctx, noopParams(n))
			if err != nil {
				return fmt.Errorf("insert %d jobs: %w", n, err)
			}
			if got != n {
				return fmt.Errorf("inserted %d jobs, want %d", got, n)
			}
			return nil
		},
	}
}

// submitter returns a setup that submits spec.
func (b *bench) submitter(spec *dag.Spec) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := b.flow.Submit(ctx, spec, nil); err != nil {
			return fmt.Errorf("submit %s: %w", spec.Name, err)
		}
		return nil
	}
}

// joinDelay records the delay of the node "join": its start minus the last
// finish of its parents.
func (b *bench) joinDelay(ctx context.Context, res *SideResult) error {
	ms, err := flowLatencies(ctx, b.pool, "join")
	if err != nil {
		return err
	}
	if len(ms) != 1 {
		return fmt.Errorf("join delay: %d values, want 1", len(ms))
	}
	res.Metrics["join_delay_ms"] = ms[0]
	return nil
}

// concurrently runs f(i) for i in [0, n) on workers goroutines and returns
// the first error; after an error the remaining calls are skipped.
func concurrently(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// shapeFanin: n parents → one join; how long the join waits after the last
// parent finished. River's side drains n no-op jobs, for nodes/s and cost.
func shapeFanin(ctx context.Context, b *bench, s *ShapeResult) error {
	n := b.cfg.FaninN
	s.Params["parents"] = n
	var err error
	if s.River, err = b.runPhase(ctx, b.drainPhase("fanin", modeRiver, n)); err != nil {
		return err
	}
	s.QuantumFlow, err = b.runPhase(ctx, phase{
		shape: "fanin", label: modeQuantumFlow, mode: modeQuantumFlow, nodes: n + 1, jobs: n + 1, spanFrom: fromFirstStart,
		setup:   b.submitter(faninSpec(n)),
		collect: b.joinDelay,
	})
	if err != nil {
		return err
	}
	s.Rows = append(s.Rows,
		row("join delay", "ms", nil, metric(s.QuantumFlow, "join_delay_ms"), atMost(50, "ms")),
		row("nodes per second", "1/s", perSecond(s.River), perSecond(s.QuantumFlow), nil),
	)
	s.Rows = append(s.Rows, costRows(s.River, s.QuantumFlow)...)
	s.Notes = append(s.Notes, "River has no join: its side drains the same number of queued no-op jobs")
	return nil
}

// shapeTree: groups of groups of leaves, every leaf runnable at once; the
// groups roll up as their members finish. River's side drains as many jobs.
func shapeTree(ctx context.Context, b *bench, s *ShapeResult) error {
	t := b.cfg.Tree
	leaves := t[0] * t[1] * t[2]
	s.Params["groups"], s.Params["subgroups"], s.Params["leaves_per_group"] = t[0], t[1], t[2]
	s.Params["leaves"] = leaves
	var err error
	if s.River, err = b.runPhase(ctx, b.drainPhase("tree", modeRiver, leaves)); err != nil {
		return err
	}
	s.QuantumFlow, err = b.runPhase(ctx, phase{
		shape: "tree", label: modeQuantumFlow, mode: modeQuantumFlow, nodes: leaves, jobs: leaves, spanFrom: fromFirstStart,
		setup: b.submitter(treeSpec(t)),
	})
	if err != nil {
		return err
	}
	s.Rows = append(s.Rows, row("leaves per second", "1/s", perSecond(s.River), perSecond(s.QuantumFlow), nil))
	s.Rows = append(s.Rows, costRows(s.River, s.QuantumFlow)...)
	s.Notes = append(s.Notes, fmt.Sprintf("QuantumFlow's per-node costs divide by the %d leaves; the %d groups are extra rows", leaves, t[0]+t[0]*t[1]))
	return nil
}

// shapeMany: many diamond workflows submitted concurrently while the
// workers run, against River inserting as many no-op jobs one by one,
// concurrently, while its workers run.
func shapeMany(ctx context.Context, b *bench, s *ShapeResult) error {
	w, conc := b.cfg.ManyWorkflows, b.cfg.ManyConcurrency
	nodes := 4 * w
	s.Params["workflows"], s.Params["concurrency"], s.Params["nodes"] = w, conc, nodes
	var err error
	s.River, err = b.runPhase(ctx, phase{
		shape: "many", label: modeRiver, mode: modeRiver, nodes: nodes, jobs: nodes, spanFrom: fromFirstInsert,
		during: func(ctx context.Context) error {
			return concurrently(ctx, nodes, conc, func(ctx context.Context, _ int) error {
				if _, err := b.insert.Insert(ctx, jobs.NoopArgs{}, nil); err != nil {
					return fmt.Errorf("insert: %w", err)
				}
				return nil
			})
		},
	})
	if err != nil {
		return err
	}
	spec := diamondSpec()
	s.QuantumFlow, err = b.runPhase(ctx, phase{
		shape: "many", label: modeQuantumFlow, mode: modeQuantumFlow, nodes: nodes, jobs: nodes, spanFrom: fromFirstInsert,
		during: func(ctx context.Context) error {
			return concurrently(ctx, w, conc, func(ctx context.Context, _ int) error {
				_, err := b.flow.Submit(ctx, spec, nil)
				return err
			})
		},
		collect: func(ctx context.Context, res *SideResult) error {
			res.Metrics["workflows_per_s"] = float64(w) / res.SpanSeconds
			ms, err := flowLatencies(ctx, b.pool, "")
			if err != nil {
				return err
			}
			return addLatencies(res.Metrics, "promotion", ms)
		},
	})
	if err != nil {
		return err
	}
	s.Rows = append(s.Rows,
		row("nodes per second", "1/s", perSecond(s.River), perSecond(s.QuantumFlow), ratioAtLeast(0.7)),
		row("workflows per second", "1/s", nil, metric(s.QuantumFlow, "workflows_per_s"), nil),
	)
	s.Rows = append(s.Rows, latencyRows("promotion latency", "promotion", nil, s.QuantumFlow, nil, nil, nil)...)
	s.Rows = append(s.Rows, costRows(s.River, s.QuantumFlow)...)
	s.Notes = append(s.Notes,
		"spans start at the first insert (River) or submission (QuantumFlow): both insert while the workers run",
		"promotion latency = a node's attempted_at minus the last finalized_at of its deps (b and c after a, d after b and c)")
	return nil
}
