package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite deploy/grafana/dashboards from the generator")

// dashboardsDir is where the committed dashboards live, seen from this
// package's directory (go test runs in it).
const dashboardsDir = "../dashboards"

// agreedMetrics are the metric names of issue 11 that dashboards, alert
// rules and the metrics package share (histograms by their base name).
var agreedMetrics = map[string]bool{
	"quantumflow_jobs_worked_total":                  true,
	"quantumflow_job_duration_seconds":               true,
	"quantumflow_jobs_running":                       true,
	"quantumflow_queue_max_workers":                  true,
	"quantumflow_nodes_released_total":               true,
	"quantumflow_workflows_finished_total":           true,
	"quantumflow_dead_workers_total":                 true,
	"quantumflow_jobs_rescued_total":                 true,
	"quantumflow_completion_batch_nodes":             true,
	"quantumflow_worker_info":                        true,
	"quantumflow_job_wait_seconds":                   true,
	"quantumflow_node_promotion_seconds":             true,
	"quantumflow_workflow_duration_seconds":          true,
	"quantumflow_queue_jobs":                         true,
	"quantumflow_queue_oldest_available_age_seconds": true,
	"quantumflow_workflows":                          true,
	"quantumflow_fleet_members":                      true,
	"quantumflow_db_collector_up":                    true,
}

// histograms are the agreed names whose _bucket, _sum and _count series
// a query may use.
var histograms = map[string]bool{
	"quantumflow_job_duration_seconds":      true,
	"quantumflow_completion_batch_nodes":    true,
	"quantumflow_job_wait_seconds":          true,
	"quantumflow_node_promotion_seconds":    true,
	"quantumflow_workflow_duration_seconds": true,
}

// templateValues stands in for Grafana's variables so that promtool can
// parse the queries: every variable a query uses must be listed here.
var templateValues = map[string]string{
	"__rate_interval": "5m",
	"__interval":      "1m",
	"__range":         "1h",
	"queue":           ".*",
}

func init() {
	// What decoding needs to give panels and queries their own types
	// (plugins.RegisterDefaultPlugins would register every plugin the SDK
	// knows; these are the ones the boards use).
	rt := cog.NewRuntime()
	rt.RegisterPanelcfgVariant(timeseries.VariantConfig())
	rt.RegisterPanelcfgVariant(stat.VariantConfig())
	rt.RegisterDataqueryVariant(prometheus.VariantConfig())
}

type panelQuery struct {
	board, row, panel, refID, expr string
}

func build(t *testing.T, b Board) (dashboard.Dashboard, []byte) {
	t.Helper()
	d, err := b.Build()
	if err != nil {
		t.Fatalf("%s: build: %v", b.File, err)
	}
	data, err := Render(d)
	if err != nil {
		t.Fatalf("%s: render: %v", b.File, err)
	}
	return d, data
}

// TestCommittedDashboardsMatchGenerator is the golden-file test: the JSON
// under deploy/grafana/dashboards is exactly what the generator writes.
// Refresh with `go generate ./deploy/grafana/gen` or -update.
func TestCommittedDashboardsMatchGenerator(t *testing.T) {
	want := map[string]bool{}
	for _, b := range Boards {
		want[b.File] = true
		_, data := build(t, b)
		path := filepath.Join(dashboardsDir, b.File)
		if *update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run `go generate ./deploy/grafana/gen`)", err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s differs from the generator's output; run `go generate ./deploy/grafana/gen` (or go test ./deploy/grafana/gen -update) and commit it", path)
		}
	}
	// No stale boards: every JSON file there is one the generator writes.
	files, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s is not written by the generator; remove it or add it to Boards", f)
		}
	}
}

// TestDashboardsDecodeStrictly decodes each committed file back into the
// SDK's Dashboard with encoding/json and DisallowUnknownFields, and checks
// that it encodes back to the same bytes and equals the generator's value
// (Dashboard.Equals). DisallowUnknownFields covers the dashboard's own
// fields only: Panel has its own UnmarshalJSON, which the flag does not
// reach, and which drops what it does not know; the byte-for-byte round trip
// catches any such loss. The SDK's UnmarshalJSONStrict then checks every
// depth (panels, options, field config, queries) for unknown fields, wrong
// types and missing required fields.
func TestDashboardsDecodeStrictly(t *testing.T) {
	for _, b := range Boards {
		built, data := build(t, b)
		if !*update {
			var err error
			if data, err = os.ReadFile(filepath.Join(dashboardsDir, b.File)); err != nil {
				t.Fatal(err)
			}
		}

		var d dashboard.Dashboard
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: strict decode: %v", b.File, err)
		}
		if dec.More() {
			t.Fatalf("%s: data after the dashboard", b.File)
		}
		again, err := Render(d)
		if err != nil {
			t.Fatalf("%s: render: %v", b.File, err)
		}
		if !bytes.Equal(again, data) {
			t.Errorf("%s: decoding and encoding again changed the JSON", b.File)
		}
		if !d.Equals(built) {
			t.Errorf("%s: the decoded dashboard does not equal the generator's (Dashboard.Equals)", b.File)
		}
		if err := d.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", b.File, err)
		}

		var strict dashboard.Dashboard
		if err := unmarshalStrict(data, &strict); err != nil {
			t.Errorf("%s: UnmarshalJSONStrict: %v", b.File, err)
		}

		if d.Uid == nil || *d.Uid == "" || d.Title == nil {
			t.Errorf("%s: no uid or title", b.File)
		}
		if !hasVariable(d, "datasource", "datasource") {
			t.Errorf("%s: no datasource variable", b.File)
		}
	}
}

// unmarshalStrict runs the SDK's UnmarshalJSONStrict for its errors. In
// v0.0.22 it returns its error list as a cog.BuildErrors even when the list
// is empty (a non-nil error holding a nil slice), so only a non-empty list
// is an error here. The same slip makes PanelOrRowPanel.UnmarshalJSONStrict
// return before it stores a panel that decoded without error, so the value
// it fills has every panel nil: use it as a check, not as a decoder.
func unmarshalStrict(data []byte, d *dashboard.Dashboard) error {
	err := d.UnmarshalJSONStrict(data)
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

// TestStrictDecodeRejectsUnknownFields shows that the strict decodes above
// would catch a field the SDK does not know, at the top, in a panel's
// options and in a query.
func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	_, data := build(t, Boards[0])
	for _, c := range []struct{ name, old, new string }{
		{"dashboard", `"uid": "quantumflow-fleet",`, `"uid": "quantumflow-fleet", "bogus": 1,`},
		{"panel options", `"options": {`, `"options": {"bogus": 1,`},
		{"query", `"refId": "A"`, `"refId": "A", "bogus": 1`},
	} {
		bad := bytes.Replace(data, []byte(c.old), []byte(c.new), 1)
		if bytes.Equal(bad, data) {
			t.Fatalf("%s: %q not found in the JSON", c.name, c.old)
		}
		var d dashboard.Dashboard
		err := unmarshalStrict(bad, &d)
		if err == nil || !strings.Contains(err.Error(), "bogus") {
			t.Errorf("%s: UnmarshalJSONStrict accepted an unknown field (err %v)", c.name, err)
		}
		if c.name == "dashboard" {
			dec := json.NewDecoder(bytes.NewReader(bad))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&d); err == nil {
				t.Errorf("%s: DisallowUnknownFields accepted an unknown field", c.name)
			}
		}
	}
}

func hasVariable(d dashboard.Dashboard, name, typ string) bool {
	for _, v := range d.Templating.List {
		if v.Name == name && string(v.Type) == typ {
			return true
		}
	}
	return false
}

// queries returns every panel's queries, in board order.
func queries(t *testing.T) []panelQuery {
	t.Helper()
	var out []panelQuery
	for _, b := range Boards {
		d, _ := build(t, b)
		row := ""
		for _, pr := range d.Panels {
			if pr.RowPanel != nil {
				row = deref(pr.RowPanel.Title)
				for _, p := range pr.RowPanel.Panels {
					out = append(out, panelQueries(t, b.File, row, p)...)
				}
				continue
			}
			if pr.Panel != nil {
				out = append(out, panelQueries(t, b.File, row, *pr.Panel)...)
			}
		}
	}
	return out
}

func panelQueries(t *testing.T, file, row string, p dashboard.Panel) []panelQuery {
	t.Helper()
	title := deref(p.Title)
	if len(p.Targets) == 0 {
		t.Errorf("%s: panel %q has no query", file, title)
	}
	if p.Datasource == nil || deref(p.Datasource.Uid) != "${datasource}" {
		t.Errorf("%s: panel %q does not use the datasource variable", file, title)
	}
	var out []panelQuery
	for _, tg := range p.Targets {
		pq, ok := promQuery(tg)
		if !ok {
			t.Errorf("%s: panel %q: query of type %T, want a Prometheus query", file, title, tg)
			continue
		}
		out = append(out, panelQuery{board: file, row: row, panel: title, refID: deref(pq.RefId), expr: pq.Expr})
	}
	return out
}

func promQuery(q variants.Dataquery) (prometheus.Dataquery, bool) {
	switch v := q.(type) {
	case prometheus.Dataquery:
		return v, true
	case *prometheus.Dataquery:
		return *v, true
	}
	return prometheus.Dataquery{}, false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestListPanels prints each board's panels with their queries: the list
// the issue asks for, kept in step with the boards by the test itself.
func TestListPanels(t *testing.T) {
	qs := queries(t)
	var b strings.Builder
	last := ""
	for _, q := range qs {
		key := q.board + "\x00" + q.row + "\x00" + q.panel
		if key != last {
			fmt.Fprintf(&b, "\n%s / %s / %s\n", q.board, q.row, q.panel)
			last = key
		}
		fmt.Fprintf(&b, "    %s: %s\n", q.refID, q.expr)
	}
	t.Log(b.String())
}

var (
	variableRE = regexp.MustCompile(`\$\{?(\w+)\}?`)
	metricRE   = regexp.MustCompile(`\bquantumflow_[a-zA-Z0-9_]*`)
)

func substitute(expr string) (string, []string) {
	var unknown []string
	out := variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		name := variableRE.FindStringSubmatch(m)[1]
		v, ok := templateValues[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		return v
	})
	return out, unknown
}

// baseMetric strips a histogram's series suffix.
func baseMetric(name string) string {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok && histograms[base] {
			return base
		}
	}
	return name
}

// TestQueriesUseAgreedMetrics checks every metric name a query (or the
// queue variable) uses against the names agreed for issue 11.
func TestQueriesUseAgreedMetrics(t *testing.T) {
	exprs := map[string]string{}
	for _, q := range queries(t) {
		exprs[q.board+": "+q.panel+" "+q.refID] = q.expr
	}
	for _, b := range Boards {
		d, _ := build(t, b)
		for _, v := range d.Templating.List {
			if v.Query != nil && v.Query.String != nil && string(v.Type) == "query" {
				exprs[b.File+": variable "+v.Name] = *v.Query.String
			}
		}
	}
	used := map[string]bool{}
	for where, expr := range exprs {
		names := metricRE.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: no quantumflow_ metric in %q", where, expr)
		}
		for _, n := range names {
			base := baseMetric(n)
			if !agreedMetrics[base] {
				t.Errorf("%s: metric %s is not in the agreed list (query %q)", where, n, expr)
			}
			if n != base && !histograms[base] {
				t.Errorf("%s: %s: series suffix on a metric that is not a histogram", where, n)
			}
			if histograms[n] {
				t.Errorf("%s: histogram %s used without _bucket, _sum or _count", where, n)
			}
			used[base] = true
		}
	}
	var unused []string
	for n := range agreedMetrics {
		if !used[n] {
			unused = append(unused, n)
		}
	}
	sort.Strings(unused)
	t.Logf("agreed metrics no panel uses: %v", unused)
}

// promtool returns the path of promtool, installing Prometheus through
// scripts/ensure-prometheus.sh when it is missing. It fails the test, never
// skips it, when promtool cannot be had.
func promtool(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("bash", "../../../scripts/ensure-prometheus.sh")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/ensure-prometheus.sh: %v\n%s", err, stderr.String())
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "promtool")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("promtool: %v", err)
	}
	return path
}

// TestQueriesParse has promtool parse every query: they become the
// expressions of recording rules in one rules file, which `promtool check
// rules` parses, with Grafana's variables replaced by valid values first.
func TestQueriesParse(t *testing.T) {
	qs := queries(t)
	if len(qs) == 0 {
		t.Fatal("no queries")
	}
	var exprs []string
	for _, q := range qs {
		expr, unknown := substitute(q.expr)
		if len(unknown) > 0 {
			t.Errorf("%s: %s: unknown template variables %v in %q", q.board, q.panel, unknown, q.expr)
			continue
		}
		exprs = append(exprs, expr)
	}
	if out, err := checkRules(t, promtool(t), exprs); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Logf("promtool parsed %d queries", len(exprs))
}

// TestPromtoolRejectsBadQuery keeps TestQueriesParse honest: the same
// check fails on a query that does not parse.
func TestPromtoolRejectsBadQuery(t *testing.T) {
	out, err := checkRules(t, promtool(t), []string{`sum(rate(quantumflow_jobs_worked_total[5m])`})
	if err == nil {
		t.Fatalf("promtool accepted an unbalanced query:\n%s", out)
	}
}

// checkRules writes exprs as the recording rules of one group and runs
// `promtool check rules` on the file; it also requires promtool to have
// counted every rule.
func checkRules(t *testing.T, promtool string, exprs []string) (string, error) {
	t.Helper()
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	rules := make([]rule, len(exprs))
	for i, e := range exprs {
		rules[i] = rule{Record: fmt.Sprintf("dashboard:query_%03d", i), Expr: e}
	}
	// JSON is YAML, so the rules file needs no YAML encoder.
	file := map[string]any{"groups": []any{map[string]any{"name": "dashboards", "rules": rules}}}
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboards.rules.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		return string(out) + "\nrules:\n" + string(data), err
	}
	if want := fmt.Sprintf("%d rules found", len(rules)); !strings.Contains(string(out), want) {
		return string(out), fmt.Errorf("promtool did not report %q", want)
	}
	return string(out), nil
}

// TestSubstituteRejectsUnknownVariables keeps the promtool check honest: a
// query with a variable the test does not know is reported, not passed on.
func TestSubstituteRejectsUnknownVariables(t *testing.T) {
	got, unknown := substitute(`rate(x{queue=~"$queue"}[$__rate_interval]) + $nope + ${other}`)
	if want := `rate(x{queue=~".*"}[5m]) + $nope + ${other}`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if len(unknown) != 2 || unknown[0] != "nope" || unknown[1] != "other" {
		t.Errorf("unknown = %v", unknown)
	}
}

// TestProvisioningFiles decodes the provisioning files strictly (unknown
// keys fail) and checks that they describe a file provider and a Prometheus
// data source.
func TestProvisioningFiles(t *testing.T) {
	var dashboards struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			OrgID                 int    `yaml:"orgId"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeYAML(t, "../provisioning/dashboards/quantumflow.yml", &dashboards)
	if dashboards.APIVersion != 1 || len(dashboards.Providers) != 1 {
		t.Fatalf("dashboards provisioning: %+v", dashboards)
	}
	if p := dashboards.Providers[0]; p.Type != "file" || p.Options.Path == "" || p.Folder == "" {
		t.Errorf("dashboards provider: %+v", p)
	}

	var datasources struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string `yaml:"name"`
			UID       string `yaml:"uid"`
			Type      string `yaml:"type"`
			Access    string `yaml:"access"`
			URL       string `yaml:"url"`
			IsDefault bool   `yaml:"isDefault"`
			Editable  bool   `yaml:"editable"`
			JSONData  struct {
				TimeInterval string `yaml:"timeInterval"`
				HTTPMethod   string `yaml:"httpMethod"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	decodeYAML(t, "../provisioning/datasources/prometheus.yml", &datasources)
	if datasources.APIVersion != 1 || len(datasources.Datasources) != 1 {
		t.Fatalf("datasources provisioning: %+v", datasources)
	}
	if ds := datasources.Datasources[0]; ds.Type != "prometheus" || ds.URL == "" || !ds.IsDefault {
		t.Errorf("datasource: %+v", ds)
	}
}

func decodeYAML(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
