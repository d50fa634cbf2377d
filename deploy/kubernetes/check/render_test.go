// Package check_test checks the Kubernetes manifests of deploy/kubernetes
// offline: it renders the kustomize base and the KEDA overlay with the
// kustomize Go API (no kubectl), decodes every rendered object strictly
// (unknown and duplicate fields rejected) into its API type (k8s.io/api,
// prometheus-operator's monitoring/v1, KEDA's v1alpha1), and checks what
// docs/OPERATIONS.md promises about them. It also keeps the PrometheusRule
// equal to deploy/prometheus/quantumflow-rules.yml and lints the Dockerfile.
//
// It is a module of its own, so that the main module does not carry the
// Kubernetes dependencies: scripts/test.sh runs `go test ./...` here too.
package check_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const (
	baseDir    = "../base"
	kedaDir    = "../overlays/keda"
	namespace  = "quantumflow"
	workerName = "quantumflow-worker"
	secretName = "quantumflow-database"
)

// rendered is one kustomization's output, decoded.
type rendered struct {
	objects []any // in output order, each a pointer to its API type
	names   []string
}

// newObject returns a pointer to a new value of the API type of kind
// apiVersion/kind, or nil for a kind the manifests should not contain.
func newObject(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}
	case "v1/Service":
		return &corev1.Service{}
	case "batch/v1/Job":
		return &batchv1.Job{}
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}
	case "keda.sh/v1alpha1/ScaledObject":
		return &kedav1alpha1.ScaledObject{}
	case "keda.sh/v1alpha1/TriggerAuthentication":
		return &kedav1alpha1.TriggerAuthentication{}
	}
	return nil
}

// render runs kustomize on dir and decodes every object strictly.
func render(t *testing.T, dir string) rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var r rendered
	for _, res := range m.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			t.Fatalf("%s: %v", res.CurId(), err)
		}
		obj := newObject(res.GetApiVersion(), res.GetKind())
		if obj == nil {
			t.Errorf("%s: %s %s has no API type in this test; add one", dir, res.GetApiVersion(), res.GetKind())
			continue
		}
		// UnmarshalStrict: unknown fields and duplicate fields are errors.
		if err := yaml.UnmarshalStrict(y, obj); err != nil {
			t.Errorf("%s: %s %s does not decode strictly: %v\n%s", dir, res.GetKind(), res.GetName(), err, y)
			continue
		}
		r.objects = append(r.objects, obj)
		r.names = append(r.names, res.GetKind()+"/"+res.GetName())
	}
	if t.Failed() {
		t.FailNow()
	}
	return r
}

// one returns the only object of type T in r.
func one[T any](t *testing.T, r rendered) *T {
	t.Helper()
	var found []*T
	for _, o := range r.objects {
		if v, ok := o.(*T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T, have %d (objects: %s)", zero, len(found), strings.Join(r.names, ", "))
	}
	return found[0]
}

func envOf(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestBaseKinds(t *testing.T) {
	r := render(t, baseDir)
	want := []string{
		"Namespace/quantumflow",
		"Service/quantumflow-worker",
		"Deployment/quantumflow-worker",
		"Job/quantumflow-migrate",
		"PodDisruptionBudget/quantumflow-worker",
		"PrometheusRule/quantumflow",
		"ServiceMonitor/quantumflow-worker",
	}
	if fmt.Sprint(slices.Sorted(slices.Values(r.names))) != fmt.Sprint(slices.Sorted(slices.Values(want))) {
		t.Errorf("base renders %v, want %v", r.names, want)
	}
}
