// Package deploy_test checks the deployment files under deploy/: the
// Prometheus alert rules in deploy/prometheus are valid, pass their promtool
// unit tests, and follow the conventions docs/OPERATIONS.md ("Alerts")
// relies on.
//
// deploy/ holds no Go code besides tests, so this is a test-only package of
// the main module: `go test ./...` (scripts/test.sh) runs it and nothing
// imports it.
package deploy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const (
	rulesFile  = "prometheus/quantumflow-rules.yml"
	configFile = "prometheus/prometheus.yml"
	testsGlob  = "prometheus/tests/*.yml"
	runbook    = "../docs/OPERATIONS.md"
	runbookURL = "https://github.com/quantumflow/quantumflow/blob/main/docs/OPERATIONS.md#"
	workerJob  = `job="quantumflow-worker"`
)

// promtool returns the path of promtool, installing it through
// scripts/ensure-prometheus.sh when it is missing. It fails the test, never
// skips it, when promtool cannot be had.
func promtool(t *testing.T) string {
	t.Helper()
	return filepath.Join(ensureTool(t, "ensure-prometheus.sh"), "promtool")
}

// ensureTool runs scripts/NAME, which installs a tool when it is missing
// and prints a path (the tool's, or its directory's), and returns that
// path. It fails the test, never skips it, when the tool cannot be had.
func ensureTool(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute) // an apt-get install, at worst
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "../scripts/"+name)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/%s: %v\n%s", name, err, stderr.String())
	}
	path := strings.TrimSpace(stdout.String())
	_, err := os.Stat(path)
	require.NoError(t, err, "scripts/%s printed %q", name, stdout.String())
	return path
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", filepath.Base(name), strings.Join(args, " "), out)
}

// TestPromtool runs promtool's checks and the rules' unit tests.
func TestPromtool(t *testing.T) {
	tool := promtool(t)
	tests, err := filepath.Glob(testsGlob)
	require.NoError(t, err)
	require.NotEmpty(t, tests)

	run(t, tool, "check", "rules", rulesFile)
	run(t, tool, "check", "config", configFile) // also checks the rule files it loads
	run(t, tool, append([]string{"test", "rules"}, tests...)...)
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// agreedMetrics are the metric names of issue 11 (docs/OPERATIONS.md,
// "Metrics"); the rules use no others.
var agreedMetrics = []string{
	"quantumflow_jobs_worked_total",
	"quantumflow_job_duration_seconds",
	"quantumflow_jobs_running",
	"quantumflow_queue_max_workers",
	"quantumflow_nodes_released_total",
	"quantumflow_workflows_finished_total",
	"quantumflow_dead_workers_total",
	"quantumflow_jobs_rescued_total",
	"quantumflow_completion_batch_nodes",
	"quantumflow_worker_info",
	"quantumflow_job_wait_seconds",
	"quantumflow_node_promotion_seconds",
	"quantumflow_workflow_duration_seconds",
	"quantumflow_queue_jobs",
	"quantumflow_queue_oldest_available_age_seconds",
	"quantumflow_workflows",
	"quantumflow_fleet_members",
	"quantumflow_db_collector_up",
}

// githubAnchor is the anchor GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// TestAlertConventions checks what promtool does not: every alert has a
// severity, a summary, a description and a runbook section that exists,
// selects the workers' scrape job, uses only the agreed metric names, and
// has unit tests in which it fires and in which it does not.
func TestAlertConventions(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	require.NoError(t, err)
	var rules ruleFile
	require.NoError(t, yaml.Unmarshal(raw, &rules))

	doc, err := os.ReadFile(runbook)
	require.NoError(t, err)
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			anchors[githubAnchor(strings.TrimLeft(h, "#"))] = true
		}
	}

	fires, quiet := map[string]bool{}, map[string]bool{}
	tests, err := filepath.Glob(testsGlob)
	require.NoError(t, err)
	for _, path := range tests {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var tf testFile
		require.NoError(t, yaml.Unmarshal(raw, &tf), path)
		require.Equal(t, []string{"../quantumflow-rules.yml"}, tf.RuleFiles, "%s tests the rules file", path)
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}

	metricName := regexp.MustCompile(`\bquantumflow_[a-z_]+`)
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			name := r.Alert
			require.NotContains(t, alerts, name, "alert names are unique")
			alerts = append(alerts, name)

			require.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], "%s: severity", name)
			require.NotEmpty(t, r.Annotations["summary"], "%s: summary", name)
			require.NotEmpty(t, r.Annotations["description"], "%s: description", name)
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookURL)
			require.True(t, ok, "%s: runbook_url %q starts with %s", name, r.Annotations["runbook_url"], runbookURL)
			require.True(t, anchors[anchor], "%s: docs/OPERATIONS.md has a section #%s", name, anchor)
			if r.For != "" {
				_, err := time.ParseDuration(r.For)
				require.NoError(t, err, "%s: for", name)
			}

			require.Contains(t, r.Expr, workerJob, "%s selects the workers' scrape job", name)
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
				require.True(t, slices.Contains(agreedMetrics, m) || slices.Contains(agreedMetrics, base),
					"%s uses %s, not an agreed metric name", name, m)
			}

			require.True(t, fires[name], "%s has a unit test in which it fires", name)
			require.True(t, quiet[name], "%s has a unit test in which it does not fire", name)
		}
	}
	require.NotEmpty(t, alerts)
	for name := range fires {
		require.Contains(t, alerts, name, "tests name an alert that exists")
	}
}
