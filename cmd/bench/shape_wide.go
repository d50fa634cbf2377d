package main

import (
	"context"
	"fmt"
)

// shapeWide: 1 → N → 1 against River draining N queued no-op jobs, and the
// same at a smaller N to see how the worker's memory grows with N.
func shapeWide(ctx context.Context, b *bench, s *ShapeResult) error {
	n, small := b.cfg.WideN, b.cfg.WideSmallN
	s.Params["n"] = n
	var err error
	if s.River, err = b.runPhase(ctx, b.drainPhase("wide", modeRiver, n)); err != nil {
		return err
	}
	if s.QuantumFlow, err = b.runPhase(ctx, b.widePhase(modeQuantumFlow, n)); err != nil {
		return err
	}
	s.Rows = append(s.Rows,
		row("nodes per second", "1/s", perSecond(s.River), perSecond(s.QuantumFlow), ratioAtLeast(0.8)),
		row("join delay", "ms", nil, metric(s.QuantumFlow, "join_delay_ms"), nil),
	)
	if b.cfg.WorkerDefaults {
		if err := wideDefaults(ctx, b, s, n); err != nil {
			return err
		}
	}
	if small > 0 {
		s.Params["small_n"] = small
		s.Extra = map[string]*SideResult{}
		if s.Extra["river_small"], err = b.runPhase(ctx, b.drainPhase("wide", modeRiver+"_small", small)); err != nil {
			return err
		}
		if s.Extra["quantumflow_small"], err = b.runPhase(ctx, b.widePhase(modeQuantumFlow+"_small", small)); err != nil {
			return err
		}
		rs, qs := s.Extra["river_small"], s.Extra["quantumflow_small"]
		s.Rows = append(s.Rows,
			row(fmt.Sprintf("worker peak RSS at N=%d", small), "MB", rssMB(rs), rssMB(qs), nil),
			row(fmt.Sprintf("worker peak RSS at N=%d", n), "MB", rssMB(s.River), rssMB(s.QuantumFlow), nil),
			withoutRatio(row(fmt.Sprintf("RSS growth N=%d vs %d", n, small), "%", growth(rs, s.River), growth(qs, s.QuantumFlow), atMost(20, "%"))),
		)
	}
	s.Rows = append(s.Rows, costRows(s.River, s.QuantumFlow)...)
	s.Notes = append(s.Notes, "join delay = the join's attempted_at minus the last of its parents' finalized_at")
	return nil
}

// widePhase runs QuantumFlow's 1 → n → 1.
func (b *bench) widePhase(label string, n int) phase {
	return phase{
		shape: "wide", label: label, mode: modeQuantumFlow, nodes: n + 2, jobs: n + 2, spanFrom: fromFirstStart,
		setup: b.submitter(wideSpec("bench-wide", n)),
		collect: func(ctx context.Context, res *SideResult) error {
			return b.joinDelay(ctx, res)
		},
	}
}

// growth is how much larger big's worker peak RSS is than small's, in %.
func growth(small, big *SideResult) *float64 {
	if small == nil || big == nil || small.WorkerPeakRSSBytes == 0 || big.WorkerPeakRSSBytes == 0 {
		return nil
	}
	return num(100 * (float64(big.WorkerPeakRSSBytes)/float64(small.WorkerPeakRSSBytes) - 1))
}

// wideDefaults runs 1 → n → 1 once more with the cmd/worker binary on its
// default flags (--worker-defaults) and adds its rows: its nodes/s beside
// River's, and its ratio to the tuned QuantumFlow phase (issue 9: ≥ 0.8).
func wideDefaults(ctx context.Context, b *bench, s *ShapeResult, n int) error {
	p := b.widePhase(modeQuantumFlow+"_worker_defaults", n)
	p.workerBin = true
	res, err := b.runPhase(ctx, p)
	if err != nil {
		return err
	}
	if s.Extra == nil {
		s.Extra = map[string]*SideResult{}
	}
	s.Extra["quantumflow_worker_defaults"] = res
	var vsTuned *float64
	if t, d := perSecond(s.QuantumFlow), perSecond(res); t != nil && d != nil {
		vsTuned = num(*d / *t)
	}
	s.Rows = append(s.Rows,
		row("nodes per second, worker on defaults", "1/s", perSecond(s.River), perSecond(res), nil),
		withoutRatio(row("worker on defaults ÷ tuned", "×", nil, vsTuned, atLeast(0.8, "×"))),
		row("join delay, worker on defaults", "ms", nil, metric(res, "join_delay_ms"), nil),
	)
	s.Notes = append(s.Notes, "worker on defaults = the cmd/worker binary with no tuning flag (only --metrics-addr 127.0.0.1:0 --log-format json) and no QF_ variables; its QF ÷ River is its nodes/s ÷ River's")
	return nil
}
