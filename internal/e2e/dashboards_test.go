package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dashQuery is one query of a generated dashboard: a panel's target or a
// template variable's query.
type dashQuery struct {
	dashboard, panel, ref, expr string
}

// dashboardQueries reads every dashboard of deploy/grafana/dashboards and
// returns its panels' queries (rows' nested panels included) and its
// template variables' queries, in file order.
func dashboardQueries(t *testing.T) []dashQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(moduleRoot, "deploy", "grafana", "dashboards", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no dashboards under deploy/grafana/dashboards")
	type target struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var out []dashQuery
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var d struct {
			Title      string  `json:"title"`
			Panels     []panel `json:"panels"`
			Templating struct {
				List []struct {
					Type  string          `json:"type"`
					Name  string          `json:"name"`
					Query json.RawMessage `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		require.NoError(t, json.Unmarshal(raw, &d), "%s", f)
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			// A query variable's query is a string, or an object with one.
			var q string
			if json.Unmarshal(v.Query, &q) != nil {
				var obj struct {
					Query string `json:"query"`
				}
				require.NoError(t, json.Unmarshal(v.Query, &obj), "%s: variable %s", f, v.Name)
				q = obj.Query
			}
			require.NotEmpty(t, q, "%s: variable %s has no query", f, v.Name)
			out = append(out, dashQuery{d.Title, "variable $" + v.Name, "", q})
		}
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				if p.Type != "row" {
					require.NotEmpty(t, p.Targets, "%s: panel %q has no query", f, p.Title)
				}
				for _, tg := range p.Targets {
					require.NotEmpty(t, tg.Expr, "%s: panel %q, query %s is empty", f, p.Title, tg.RefID)
					out = append(out, dashQuery{d.Title, p.Title, tg.RefID, tg.Expr})
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
	}
	return out
}

// exposition is a scrape in the text format: each family's type, and one
// sample line of each series name (its first with a non-zero value, else
// its first).
type exposition struct {
	types  map[string]string // family name → counter, gauge, histogram, ...
	sample map[string]string // series name → its first sample line
}

func parseExposition(body string) exposition {
	x := exposition{types: map[string]string{}, sample: map[string]string{}}
	for _, line := range strings.Split(body, "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if name, typ, ok := strings.Cut(f, " "); ok {
				x.types[name] = typ
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.IndexAny(line+" ", "{ ")]
		if prev, seen := x.sample[name]; !seen || (zeroSample(prev) && !zeroSample(line)) {
			x.sample[name] = line
		}
	}
	return x
}

func zeroSample(line string) bool { return strings.HasSuffix(line, " 0") }

// family is the family a series name used in a query belongs to: itself,
// or for a histogram's _bucket, _sum and _count series, its base name.
func (x exposition) family(name string) (string, bool) {
	if _, ok := x.types[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && x.types[base] == "histogram" {
			return base, true
		}
	}
	return "", false
}

var qfMetricName = regexp.MustCompile(`\bquantumflow_[A-Za-z0-9_]+`)

// TestDashboardMetricsLive checks the generated dashboards against a live
// scrape: after a completed, a failed and a cancelled workflow through a
// real worker with --db-metrics=on, every quantumflow_ metric that a
// panel's query or a template variable's query names (a histogram's
// _bucket/_sum/_count by its base name) is a family of the worker's
// /metrics. It logs every panel with each query and, for each metric, the
// family's type and a sample line of the scrape: the proof, without a
// screenshot, that the dashboards read metrics that exist.
//
// quantumflow_workflow_duration_seconds{outcome="cancelled"} is observed
// only by the process that cancels (here enqueue cancel): its family is
// there, with a zero count for that outcome.
func TestDashboardMetricsLive(t *testing.T) {
	t.Parallel()
	queries := dashboardQueries(t)
	e := newEnv(t)
	w := e.startWorker(t, "--db-metrics=on")
	x := parseExposition(observeWorkflows(t, e, w))

	used := map[string]bool{}
	var report strings.Builder
	for _, q := range queries {
		names := qfMetricName.FindAllString(q.expr, -1)
		require.NotEmpty(t, names, "%s / %s %s: no quantumflow_ metric in %q", q.dashboard, q.panel, q.ref, q.expr)
		fmt.Fprintf(&report, "\n%s / %s", q.dashboard, q.panel)
		if q.ref != "" {
			fmt.Fprintf(&report, " [%s]", q.ref)
		}
		fmt.Fprintf(&report, "\n    query:  %s\n", strings.Join(strings.Fields(q.expr), " "))
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			fam, ok := x.family(n)
			if !assert(t, ok, "%s / %s %s: %s is not a family of the live scrape (query %q)", q.dashboard, q.panel, q.ref, n, q.expr) {
				continue
			}
			used[fam] = true
			line := x.sample[n]
			if line == "" {
				line = x.sample[fam+"_count"]
			}
			require.NotEmpty(t, line, "%s: family %s has no sample in the scrape", n, fam)
			fmt.Fprintf(&report, "    metric: %s (%s) → scrape had: %s\n", n, x.types[fam], line)
		}
	}
	families := make([]string, 0, len(used))
	for f := range used {
		families = append(families, f)
	}
	sort.Strings(families)
	t.Logf("%d queries of %d dashboards, %d metric families, all in the live scrape:%s\nfamilies used: %s",
		len(queries), countDashboards(queries), len(families), report.String(), strings.Join(families, ", "))
	require.Contains(t, x.types, "quantumflow_workflow_duration_seconds")
}

// assert is require's check without stopping the test, so that one run
// names every missing metric.
func assert(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

func countDashboards(qs []dashQuery) int {
	seen := map[string]bool{}
	for _, q := range qs {
		seen[q.dashboard] = true
	}
	return len(seen)
}
