package main

import (
	"context"
	"fmt"
)

// shapeChain: one chain of hops. River's hop is a job that completes itself
// with JobCompleteTx and inserts its successor in the same transaction;
// QuantumFlow's is a node whose completion releases the next node.
func shapeChain(ctx context.Context, b *bench, s *ShapeResult) error {
	n := b.cfg.ChainHops
	s.Params["hops"] = n
	var err error
	s.River, err = b.runPhase(ctx, phase{
		shape: "chain", label: modeRiver, mode: modeRiver, nodes: n, jobs: n, spanFrom: fromFirstStart,
		setup: func(ctx context.Context) error {
			if _, err := b.insert.Insert(ctx, chainArgs{Hop: 0, Hops: n}, nil); err != nil {
				return fmt.Errorf("insert the first hop: %w", err)
			}
			return nil
		},
		collect: func(ctx context.Context, res *SideResult) error {
			ms, err := riverChainLatencies(ctx, b.pool)
			if err != nil {
				return err
			}
			return addLatencies(res.Metrics, "hop", ms)
		},
	})
	if err != nil {
		return err
	}
	s.QuantumFlow, err = b.runPhase(ctx, phase{
		shape: "chain", label: modeQuantumFlow, mode: modeQuantumFlow, nodes: n, jobs: n, spanFrom: fromFirstStart,
		setup: b.submitter(chainSpec(n)),
		collect: func(ctx context.Context, res *SideResult) error {
			ms, err := flowLatencies(ctx, b.pool, "")
			if err != nil {
				return err
			}
			return addLatencies(res.Metrics, "hop", ms)
		},
	})
	if err != nil {
		return err
	}
	s.Rows = append(s.Rows, latencyRows("hop latency", "hop", s.River, s.QuantumFlow,
		both(atMost(2, "ms"), ratioAtMost(1.5)), nil, atMost(10, "ms"))...)
	s.Rows = append(s.Rows, row("hops per second", "1/s", perSecond(s.River), perSecond(s.QuantumFlow), nil))
	s.Rows = append(s.Rows, costRows(s.River, s.QuantumFlow)...)
	s.Notes = append(s.Notes, "hop latency = a job's attempted_at minus its predecessor's finalized_at")
	return nil
}
