package main

import (
	"fmt"
	"strings"
)

// Row is one line of the table: a metric of a shape on both sides.
type Row struct {
	Metric      string   `json:"metric"`
	Unit        string   `json:"unit"`
	River       *float64 `json:"river"`       // null: no River counterpart
	QuantumFlow *float64 `json:"quantumflow"` // null: not measured
	// Ratio is QuantumFlow ÷ River; null when either is missing.
	Ratio *float64 `json:"ratio"`
	// Goal is issue 4's goal for this metric, and GoalMet whether
	// QuantumFlow's value meets it.
	Goal    string `json:"goal,omitempty"`
	GoalMet *bool  `json:"goal_met,omitempty"`
	// Caveat says why the value may be off (other sessions' WAL).
	Caveat string `json:"caveat,omitempty"`
}

// goal is a target from issue 4 and how to check it.
type goal struct {
	text string
	met  func(qf, ratio float64) bool
	// needsRatio: the check uses the ratio, so River must be measured.
	needsRatio bool
}

func atMost(v float64, unit string) *goal {
	text := "≤ " + trimFloat(v)
	if unit != "" {
		text += " " + unit
	}
	return &goal{text: text, met: func(qf, _ float64) bool { return qf <= v }}
}

func atLeast(v float64, unit string) *goal {
	text := "≥ " + trimFloat(v)
	if unit != "" {
		text += " " + unit
	}
	return &goal{text: text, met: func(qf, _ float64) bool { return qf >= v }}
}

func ratioAtLeast(x float64) *goal {
	return &goal{text: fmt.Sprintf("≥ %s× River", trimFloat(x)), met: func(_, r float64) bool { return r >= x }, needsRatio: true}
}

func ratioAtMost(x float64) *goal {
	return &goal{text: fmt.Sprintf("≤ %s× River", trimFloat(x)), met: func(_, r float64) bool { return r <= x }, needsRatio: true}
}

// both is met when a and b are.
func both(a, b *goal) *goal {
	return &goal{
		text:       a.text + " and " + b.text,
		met:        func(qf, r float64) bool { return a.met(qf, r) && b.met(qf, r) },
		needsRatio: a.needsRatio || b.needsRatio,
	}
}

// row builds a Row; river or qf may be nil.
func row(metric, unit string, river, qf *float64, g *goal) Row {
	r := Row{Metric: metric, Unit: unit, River: river, QuantumFlow: qf}
	if river != nil && qf != nil && *river != 0 {
		r.Ratio = num(*qf / *river)
	}
	if g != nil {
		r.Goal = g.text
		if qf != nil && (r.Ratio != nil || !g.needsRatio) {
			ratio := 0.0
			if r.Ratio != nil {
				ratio = *r.Ratio
			}
			met := g.met(*qf, ratio)
			r.GoalMet = &met
		}
	}
	return r
}

// withoutRatio drops the ratio of a row where it means nothing (a ratio of
// percentages).
func withoutRatio(r Row) Row {
	r.Ratio = nil
	return r
}

func num(v float64) *float64 { return &v }

// metric returns m[key] of a side, or nil.
func metric(s *SideResult, key string) *float64 {
	if s == nil {
		return nil
	}
	v, ok := s.Metrics[key]
	if !ok {
		return nil
	}
	return &v
}

// perSecond returns a side's throughput, or nil.
func perSecond(s *SideResult) *float64 {
	if s == nil || s.PerSecond == 0 {
		return nil
	}
	return &s.PerSecond
}

func rssMB(s *SideResult) *float64 {
	if s == nil || s.WorkerPeakRSSBytes == 0 {
		return nil
	}
	return num(float64(s.WorkerPeakRSSBytes) / (1 << 20))
}

// latencyRows are p50, p95 and p99 of a latency metric; goals by
// percentile may be nil.
func latencyRows(name, key string, river, qf *SideResult, p50, p95, p99 *goal) []Row {
	return []Row{
		row(name+" p50", "ms", metric(river, key+"_p50_ms"), metric(qf, key+"_p50_ms"), p50),
		row(name+" p95", "ms", metric(river, key+"_p95_ms"), metric(qf, key+"_p95_ms"), p95),
		row(name+" p99", "ms", metric(river, key+"_p99_ms"), metric(qf, key+"_p99_ms"), p99),
	}
}

// costRows are the database cost per node and the worker's peak RSS,
// which every shape reports.
func costRows(river, qf *SideResult) []Row {
	cost := func(s *SideResult, f func(*DBCost) float64) *float64 {
		if s == nil {
			return nil
		}
		return num(f(&s.DB))
	}
	return []Row{
		row("commits per node", "", cost(river, func(c *DBCost) float64 { return c.CommitsPerNode }),
			cost(qf, func(c *DBCost) float64 { return c.CommitsPerNode }), atMost(3, "")),
		row("rows inserted per node", "", cost(river, func(c *DBCost) float64 { return c.RowsInsertedPerNode }),
			cost(qf, func(c *DBCost) float64 { return c.RowsInsertedPerNode }), nil),
		row("rows updated per node", "", cost(river, func(c *DBCost) float64 { return c.RowsUpdatedPerNode }),
			cost(qf, func(c *DBCost) float64 { return c.RowsUpdatedPerNode }), nil),
		walRow(river, qf),
		row("worker CPU per node", "µs", cpuPerNode(river, workerCPU), cpuPerNode(qf, workerCPU), nil),
		row("PostgreSQL + rest CPU per node", "µs", cpuPerNode(river, restCPU), cpuPerNode(qf, restCPU), nil),
		row("worker peak RSS", "MB", rssMB(river), rssMB(qf), nil),
	}
}

// walRow is WAL bytes per node. WAL is the server's: when other databases
// committed during a phase, the metric is starred and the row says how many.
func walRow(river, qf *SideResult) Row {
	wal := func(s *SideResult) *float64 {
		if s == nil {
			return nil
		}
		return num(s.DB.WALBytesPerNode)
	}
	r := row("WAL per node", "B", wal(river), wal(qf), ratioAtMost(3))
	var others []string
	for _, side := range []struct {
		name string
		s    *SideResult
	}{{"River", river}, {"QuantumFlow", qf}} {
		if side.s != nil && side.s.DB.OtherDatabasesCommits > 0 {
			others = append(others, fmt.Sprintf("%d during %s's phase", side.s.DB.OtherDatabasesCommits, side.name))
		}
	}
	if len(others) > 0 {
		r.Metric += " *"
		r.Caveat = "* the WAL position is the server's: other databases committed " + strings.Join(others, " and ") + ", and their WAL is counted too"
	}
	return r
}

func workerCPU(s *SideResult) float64 { return s.WorkerCPUSeconds }

// restCPU is the machine's busy time less the worker's and the bench's:
// PostgreSQL's, and that of anything else running on the machine.
func restCPU(s *SideResult) float64 {
	return max(0, s.MachineCPUSeconds-s.WorkerCPUSeconds-s.BenchCPUSeconds)
}

// cpuPerNode is f(s) in microseconds per node, or nil when unmeasured.
func cpuPerNode(s *SideResult, f func(*SideResult) float64) *float64 {
	if s == nil || s.Nodes == 0 || s.MachineCPUSeconds == 0 {
		return nil
	}
	return num(f(s) / float64(s.Nodes) * 1e6)
}

// fmtNum formats a measurement with a precision that suits its size.
func fmtNum(v *float64) string {
	if v == nil {
		return "n/a"
	}
	a := *v
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", *v)
	case a >= 10:
		return fmt.Sprintf("%.1f", *v)
	case a >= 1:
		return fmt.Sprintf("%.2f", *v)
	}
	return fmt.Sprintf("%.3f", *v)
}

func fmtRatio(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%.2f×", *v)
}

func fmtGoal(r Row) string {
	switch {
	case r.Goal == "":
		return ""
	case r.GoalMet == nil:
		return r.Goal
	case *r.GoalMet:
		return r.Goal + ": met"
	}
	return r.Goal + ": MISSED"
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
