package check_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// params is the overlay's local ConfigMap (left out of the output).
func params(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(kedaDir + "/params.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(b, &cm); err != nil {
		t.Fatalf("params.yaml: %v", err)
	}
	return cm.Data
}

func atoi(t *testing.T, what, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s %q: %v", what, s, err)
	}
	return n
}

func TestKEDAOverlay(t *testing.T) {
	r := render(t, kedaDir)
	p := params(t)
	d := one[appsv1.Deployment](t, r)
	so := one[kedav1alpha1.ScaledObject](t, r)
	ta := one[kedav1alpha1.TriggerAuthentication](t, r)
	for _, n := range r.names {
		if strings.HasPrefix(n, "ConfigMap/") {
			t.Errorf("%s is in the output; params.yaml is local configuration", n)
		}
	}

	// KEDA's HPA owns the replicas.
	if d.Spec.Replicas != nil {
		t.Errorf("the overlay's Deployment sets replicas %d", *d.Spec.Replicas)
	}
	if so.Spec.ScaleTargetRef == nil || so.Spec.ScaleTargetRef.Name != d.Name || so.Spec.ScaleTargetRef.Kind != "Deployment" {
		t.Errorf("scaleTargetRef %+v does not name Deployment %s", so.Spec.ScaleTargetRef, d.Name)
	}
	if err := kedav1alpha1.ValidateTriggers(so.Spec.Triggers); err != nil {
		t.Errorf("KEDA rejects the triggers: %v", err)
	}
	if len(so.Spec.Triggers) != 1 {
		t.Fatalf("want one trigger, have %d", len(so.Spec.Triggers))
	}
	tr := so.Spec.Triggers[0]
	if tr.Type != "postgresql" {
		t.Errorf("trigger type %q, want postgresql", tr.Type)
	}

	// The queue from params.yaml, in --queues and in the query.
	c := container(t, d.Spec.Template.Spec, "worker")
	queues, _ := envOf(c, "QF_QUEUES")
	if want := p["queue"] + "=" + p["concurrency"]; queues.Value != want {
		t.Errorf("QF_QUEUES %q, want %q", queues.Value, want)
	}
	q := tr.Metadata["query"]
	if parts := strings.Split(q, "'"); len(parts) < 2 || parts[1] != p["queue"] {
		t.Errorf("query %q does not count queue %q", q, p["queue"])
	}
	for _, s := range []string{"count(*)", "FROM river_job", "'available'", "'running'"} {
		if !strings.Contains(q, s) {
			t.Errorf("query %q lacks %q", q, s)
		}
	}

	// targetQueryValue: the jobs of the queue one worker runs at once.
	if tr.Metadata["targetQueryValue"] != p["concurrency"] {
		t.Errorf("targetQueryValue %q, want the queue's concurrency %q", tr.Metadata["targetQueryValue"], p["concurrency"])
	}
	if _, ok := tr.Metadata["activationTargetQueryValue"]; !ok {
		t.Errorf("no activationTargetQueryValue")
	}

	// maxReplicaCount from the connection budget.
	pool, _ := envOf(c, "QF_POOL_MAX_CONNS")
	P := atoi(t, "QF_POOL_MAX_CONNS", pool.Value)
	if P != atoi(t, "poolMaxConns", p["poolMaxConns"]) {
		t.Errorf("QF_POOL_MAX_CONNS %d is not params.yaml's poolMaxConns", P)
	}
	budget := atoi(t, "maxConnections", p["maxConnections"]) - atoi(t, "reservedConnections", p["reservedConnections"])
	if so.Spec.MaxReplicaCount == nil || int(*so.Spec.MaxReplicaCount) != budget/P {
		t.Errorf("maxReplicaCount %v, want floor((maxConnections - reservedConnections) / P) = %d", so.Spec.MaxReplicaCount, budget/P)
	}
	if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 {
		t.Errorf("minReplicaCount %v, want at least 1", so.Spec.MinReplicaCount)
	}
	if so.Namespace != namespace || ta.Namespace != namespace {
		t.Errorf("KEDA objects not in namespace %s", namespace)
	}

	// The connection comes from the workers' Secret.
	if tr.AuthenticationRef == nil || tr.AuthenticationRef.Name != ta.Name ||
		(tr.AuthenticationRef.Kind != "" && tr.AuthenticationRef.Kind != "TriggerAuthentication") {
		t.Errorf("authenticationRef %+v does not name TriggerAuthentication %s", tr.AuthenticationRef, ta.Name)
	}
	if len(ta.Spec.SecretTargetRef) != 1 {
		t.Fatalf("secretTargetRef %+v", ta.Spec.SecretTargetRef)
	}
	ref := ta.Spec.SecretTargetRef[0]
	if ref.Parameter != "connection" || ref.Name != secretName || ref.Key != "url" {
		t.Errorf("secretTargetRef %+v, want connection from %s key url", ref, secretName)
	}
}

// TestStrictDecodeRejects shows the decoding these tests rely on is strict.
func TestStrictDecodeRejects(t *testing.T) {
	for _, y := range []string{
		"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec:\n  maxReplicas: 3\n",
		"apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 1\n  replicas: 2\n",
	} {
		var so kedav1alpha1.ScaledObject
		var d appsv1.Deployment
		var obj any = &so
		if strings.Contains(y, "Deployment") {
			obj = &d
		}
		if err := yaml.UnmarshalStrict([]byte(y), obj); err == nil {
			t.Errorf("accepted:\n%s", y)
		}
	}
}
