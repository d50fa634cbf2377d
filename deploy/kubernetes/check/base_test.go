package check_test

import (
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The worker's own wait for cancelled jobs after the grace
// (docs/OPERATIONS.md, "Shutdown").
const cancelWait = 5 * time.Second

func TestBaseNamespaced(t *testing.T) {
	r := render(t, baseDir)
	for i, o := range r.objects {
		m, ok := o.(metav1.ObjectMetaAccessor)
		if !ok {
			t.Fatalf("%s has no metadata", r.names[i])
		}
		meta := m.GetObjectMeta()
		if strings.HasPrefix(r.names[i], "Namespace/") {
			continue
		}
		if meta.GetNamespace() != namespace {
			t.Errorf("%s: namespace %q, want %q", r.names[i], meta.GetNamespace(), namespace)
		}
	}
}

// checkPodSecurity checks the restrictive security context every pod of the
// base has: non-root, read-only root, no capabilities, RuntimeDefault
// seccomp, no privilege escalation; and that every container has resources.
func checkPodSecurity(t *testing.T, what string, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot is not true", what)
	}
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod securityContext.runAsUser is not a non-zero UID", what)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccompProfile is not RuntimeDefault", what)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken is not false", what)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		name := what + " container " + c.Name
		if sc == nil {
			t.Errorf("%s: no securityContext", name)
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation is not false", name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem is not true", name)
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: runAsNonRoot is not true", name)
		}
		if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 {
			t.Errorf("%s: capabilities are not drop [ALL], add none: %+v", name, sc.Capabilities)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: wants cpu and memory requests and a memory limit: %+v", name, c.Resources)
		}
		if c.Image == "quantumflow" || !strings.Contains(c.Image, "/") {
			t.Errorf("%s: image %q was not set by the kustomization's images", name, c.Image)
		}
		env, ok := envOf(c, "DATABASE_URL")
		if !ok || env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil ||
			env.ValueFrom.SecretKeyRef.Name != secretName || env.ValueFrom.SecretKeyRef.Key != "url" {
			t.Errorf("%s: DATABASE_URL is not taken from Secret %s key url: %+v", name, secretName, env)
		}
	}
}

func TestBaseWorkerDeployment(t *testing.T) {
	r := render(t, baseDir)
	d := one[appsv1.Deployment](t, r)
	spec := d.Spec.Template.Spec
	checkPodSecurity(t, "Deployment", spec)
	if !matches(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	if d.Spec.Strategy.RollingUpdate == nil || d.Spec.Strategy.RollingUpdate.MaxSurge == nil ||
		d.Spec.Strategy.RollingUpdate.MaxSurge.IntValue() != 0 {
		t.Errorf("rolling update has a surge: a rollout would exceed the connection budget")
	}
	c := container(t, spec, "worker")
	if len(c.Command) != 1 || c.Command[0] != "/usr/local/bin/worker" {
		t.Errorf("command %v, want [/usr/local/bin/worker]", c.Command)
	}

	addr, _ := envOf(c, "QF_METRICS_ADDR")
	if addr.Value != "0.0.0.0:9464" {
		t.Errorf("QF_METRICS_ADDR %q, want 0.0.0.0:9464 (the probes and Prometheus come from outside the pod)", addr.Value)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || c.Ports[0].ContainerPort != 9464 {
		t.Errorf("ports %+v, want one named metrics on 9464", c.Ports)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "metrics" {
			t.Errorf("%s probe GET %s on %s, want %s on metrics", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}

	id, _ := envOf(c, "QF_ID")
	if id.ValueFrom == nil || id.ValueFrom.FieldRef == nil || id.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("QF_ID is not the pod's name: %+v", id)
	}
	if p, _ := envOf(c, "QF_POOL_MAX_CONNS"); p.Value == "" {
		t.Errorf("QF_POOL_MAX_CONNS is not set: the connection budget needs an explicit P")
	}

	grace, _ := envOf(c, "QF_SHUTDOWN_GRACE")
	g, err := time.ParseDuration(grace.Value)
	if err != nil {
		t.Fatalf("QF_SHUTDOWN_GRACE %q: %v", grace.Value, err)
	}
	if spec.TerminationGracePeriodSeconds == nil {
		t.Fatal("no terminationGracePeriodSeconds")
	}
	if tg := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second; tg <= g+cancelWait {
		t.Errorf("terminationGracePeriodSeconds %v is not longer than QF_SHUTDOWN_GRACE %v + %v", tg, g, cancelWait)
	}
}

func TestBaseMigrateJob(t *testing.T) {
	r := render(t, baseDir)
	j := one[batchv1.Job](t, r)
	checkPodSecurity(t, "Job", j.Spec.Template.Spec)
	c := container(t, j.Spec.Template.Spec, "migrate")
	if strings.Join(c.Command, " ") != "/usr/local/bin/worker migrate" {
		t.Errorf("command %v, want worker migrate", c.Command)
	}
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("restartPolicy %q", j.Spec.Template.Spec.RestartPolicy)
	}
	d := one[appsv1.Deployment](t, r)
	if j.Spec.Template.Spec.Containers[0].Image != d.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("the Job's image differs from the workers'")
	}
}

func TestBaseMonitoring(t *testing.T) {
	r := render(t, baseDir)
	d := one[appsv1.Deployment](t, r)
	svc := one[corev1.Service](t, r)
	pdb := one[policyv1.PodDisruptionBudget](t, r)
	sm := one[monitoringv1.ServiceMonitor](t, r)
	pods := d.Spec.Template.Labels

	if !matches(svc.Spec.Selector, pods) {
		t.Errorf("Service selector %v does not select the worker pods %v", svc.Spec.Selector, pods)
	}
	if pdb.Spec.Selector == nil || !matches(pdb.Spec.Selector.MatchLabels, pods) {
		t.Errorf("PDB does not select the worker pods")
	}
	if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		t.Errorf("PDB sets neither maxUnavailable nor minAvailable")
	}
	// The operator names the scrape job after the Service: the rules and
	// dashboards select job="quantumflow-worker".
	if svc.Name != workerName || sm.Spec.JobLabel != "" {
		t.Errorf("Service %q (jobLabel %q): the scrape job would not be %s", svc.Name, sm.Spec.JobLabel, workerName)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].TargetPort.String() != "metrics" {
		t.Errorf("Service ports %+v, want metrics → metrics", svc.Spec.Ports)
	}
	if !matches(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service's labels %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v, want port metrics path /metrics", sm.Spec.Endpoints)
	}
}
