package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// shapeSubmit: the time and peak memory of a process that submits an
// N-node DAG (1 → N-2 → 1, read from a JSON file as 'enqueue submit FILE'
// does), against a process that inserts N no-op jobs with River's
// InsertManyFast. No worker runs: the workflow's first job stays queued.
func shapeSubmit(ctx context.Context, b *bench, s *ShapeResult) error {
	n := b.cfg.SubmitN
	s.Params["nodes"] = n
	file := filepath.Join(b.tmp, fmt.Sprintf("wide-%d.json", n))
	raw, err := json.Marshal(wideSpec("bench-submit", n-2))
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		return fmt.Errorf("write spec file: %w", err)
	}
	s.Params["spec_bytes"] = len(raw)

	measure := func(spec childSpec) func(ctx context.Context, res *SideResult) error {
		return func(ctx context.Context, res *SideResult) error {
			spec.App = b.childApp
			wall, ev, rss, cpu, err := runToEnd(ctx, spec, b.env.url, b.stderr)
			if err != nil {
				return err
			}
			res.WorkerPeakRSSBytes, res.WorkerCPUSeconds = rss, cpu.Seconds()
			res.Metrics["process_s"] = wall.Seconds()
			if ev.CallSeconds > 0 {
				res.Metrics["call_s"] = ev.CallSeconds
			}
			return nil
		}
	}
	// runPhase measures the database around setup; the process's own
	// numbers land in res.
	run := func(label string, do func(context.Context, *SideResult) error) (*SideResult, error) {
		res := &SideResult{Metrics: map[string]float64{}}
		out, err := b.runPhase(ctx, phase{
			shape: "submit", label: label, nodes: n,
			setup: func(ctx context.Context) error { return do(ctx, res) },
		})
		if err != nil {
			return nil, err
		}
		out.WorkerPeakRSSBytes, out.WorkerCPUSeconds = res.WorkerPeakRSSBytes, res.WorkerCPUSeconds
		for k, v := range res.Metrics {
			out.Metrics[k] = v
		}
		return out, nil
	}
	if s.River, err = run(modeRiver, measure(childSpec{Role: roleInsert, N: n})); err != nil {
		return err
	}
	qf := childSpec{Role: roleSubmit, SpecFile: file}
	if b.cfg.EnqueueBin != "" {
		qf = childSpec{Role: roleExec, Argv: []string{b.cfg.EnqueueBin, "submit", file}}
	}
	if s.QuantumFlow, err = run(modeQuantumFlow, measure(qf)); err != nil {
		return err
	}
	s.Rows = append(s.Rows,
		row("process time", "s", metric(s.River, "process_s"), metric(s.QuantumFlow, "process_s"), atMost(5, "s")),
		row("insert / submit call", "s", metric(s.River, "call_s"), metric(s.QuantumFlow, "call_s"), nil),
		row("process peak RSS", "MB", rssMB(s.River), rssMB(s.QuantumFlow), atMost(300, "MB")),
	)
	for _, r := range costRows(s.River, s.QuantumFlow) {
		if r.Metric != "worker peak RSS" { // shown above as the process's
			s.Rows = append(s.Rows, r)
		}
	}
	what := "a child process of bench running the code of 'enqueue submit FILE' (dag.Parse, flow.Client.Submit)"
	if b.cfg.EnqueueBin != "" {
		what = "'" + b.cfg.EnqueueBin + " submit FILE' (started by a small child of bench; the call is that process's life)"
	}
	s.Notes = append(s.Notes,
		fmt.Sprintf("QuantumFlow: %s on a %d-byte JSON spec; River: a child process calling InsertManyFast with %d no-op jobs", what, len(raw), n),
		"process time runs from the process's start to its exit; the call is parse + submit (QuantumFlow) or InsertManyFast (River) alone",
		"QuantumFlow writes the node rows and the root's job; the other jobs are inserted as nodes are released, which the other shapes count")
	return nil
}
