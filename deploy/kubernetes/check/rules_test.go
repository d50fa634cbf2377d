package check_test

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite ../base/prometheusrule.yaml from deploy/prometheus/quantumflow-rules.yml")

const (
	rulesSource = "../../prometheus/quantumflow-rules.yml"
	ruleFile    = "../base/prometheusrule.yaml"
)

const ruleHeader = `# GENERATED from deploy/prometheus/quantumflow-rules.yml by
# deploy/kubernetes/check (go test -run TestPrometheusRule -update there);
# do not edit: change the rules file and regenerate. go test fails while the
# two differ.
#
# The Prometheus Operator loads PrometheusRules that its Prometheus's
# ruleSelector selects: add the labels it wants (e.g. release: ...) with a
# kustomize patch or labels entry.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: quantumflow
  labels:
    app.kubernetes.io/name: quantumflow
spec:
`

// generateRule is the PrometheusRule: the header and the rules file's text
// (less its leading comment) indented under spec, comments and all.
func generateRule(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile(rulesSource)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(src), "\n"), "\n")
	for len(lines) > 0 && (strings.HasPrefix(lines[0], "#") || strings.TrimSpace(lines[0]) == "") {
		lines = lines[1:]
	}
	var b bytes.Buffer
	b.WriteString(ruleHeader)
	for _, l := range lines {
		if l != "" {
			b.WriteString("  ")
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestPrometheusRule keeps base/prometheusrule.yaml equal to the rules file
// (byte for byte as generated, and as decoded) and strictly decodable.
func TestPrometheusRule(t *testing.T) {
	want := generateRule(t)
	if *update {
		if err := os.WriteFile(ruleFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatalf("%s is not what %s generates: run go test -run TestPrometheusRule -update in deploy/kubernetes/check", ruleFile, rulesSource)
	}

	var pr monitoringv1.PrometheusRule
	if err := yaml.UnmarshalStrict(have, &pr); err != nil {
		t.Fatalf("%s: %v", ruleFile, err)
	}
	src, _ := os.ReadFile(rulesSource)
	var spec monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(src, &spec); err != nil {
		t.Fatalf("%s does not decode into PrometheusRuleSpec: %v", rulesSource, err)
	}
	if !reflect.DeepEqual(pr.Spec, spec) {
		t.Fatalf("the PrometheusRule's spec differs from %s", rulesSource)
	}
	var alerts int
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts++
			}
		}
	}
	if alerts < 5 {
		t.Fatalf("only %d alerts in %s", alerts, rulesSource)
	}

	// The rendered base carries it unchanged.
	rendered := one[monitoringv1.PrometheusRule](t, render(t, baseDir))
	if !reflect.DeepEqual(rendered.Spec, spec) {
		t.Fatalf("the rendered PrometheusRule's spec differs from %s", rulesSource)
	}
}
