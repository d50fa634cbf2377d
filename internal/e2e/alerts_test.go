package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// rulesTimeScale divides every duration of the alert rules for the live
// test: a minute of production becomes a second (15m → 15s, 5m → 5s,
// 1m → 1s), so that the alerts fire within seconds of their fault.
const rulesTimeScale = 60

// promDuration is one Prometheus duration: 1h30m, 15m, 500ms.
var (
	promDuration     = regexp.MustCompile(`^(?:\d+(?:ms|s|m|h|d|w|y))+$`)
	promDurationPart = regexp.MustCompile(`(\d+)(ms|s|m|h|d|w|y)`)
	promRange        = regexp.MustCompile(`\[((?:\d+(?:ms|s|m|h|d|w|y))+)\]`)
)

var promUnits = map[string]time.Duration{
	"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour,
}

// scalePromDuration divides a Prometheus duration by rulesTimeScale and
// writes it in seconds (or milliseconds when it is not whole).
func scalePromDuration(t *testing.T, s string) string {
	t.Helper()
	require.Regexp(t, promDuration, s, "not a Prometheus duration")
	var d time.Duration
	for _, m := range promDurationPart.FindAllStringSubmatch(s, -1) {
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		d += time.Duration(n) * promUnits[m[2]]
	}
	d /= rulesTimeScale
	require.GreaterOrEqual(t, d, time.Second, "%s scaled down is under a second", s)
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// shortenRules writes to dst a copy of the rule file src in which every
// rule's `for` and every range window of its expr ([15m]) are divided by
// rulesTimeScale, and returns the alerts' new `for` by name. The
// production file stays the single source: the copy is derived from its
// YAML, nothing else changes.
func shortenRules(t *testing.T, src, dst string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(src)
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	require.Equal(t, yaml.DocumentNode, doc.Kind)
	fors := map[string]string{}
	windows := 0
	groups := mapValue(t, doc.Content[0], "groups")
	require.NotNil(t, groups, "%s has no groups", src)
	for _, g := range groups.Content {
		rules := mapValue(t, g, "rules")
		require.NotNil(t, rules)
		for _, r := range rules.Content {
			name := ""
			if a := mapValue(t, r, "alert"); a != nil {
				name = a.Value
			}
			if f := mapValue(t, r, "for"); f != nil {
				f.Value = scalePromDuration(t, f.Value)
				fors[name] = f.Value
			} else {
				fors[name] = "0s"
			}
			expr := mapValue(t, r, "expr")
			require.NotNil(t, expr, "rule %q has no expr", name)
			expr.Value = promRange.ReplaceAllStringFunc(expr.Value, func(w string) string {
				windows++
				return "[" + scalePromDuration(t, w[1:len(w)-1]) + "]"
			})
		}
	}
	require.NotZero(t, windows, "no range window in %s", src)
	out, err := yaml.Marshal(&doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, out, 0o600))
	return fors
}

// mapValue is the value of key in the YAML mapping m, or nil.
func mapValue(t *testing.T, m *yaml.Node, key string) *yaml.Node {
	t.Helper()
	require.Equal(t, yaml.MappingNode, m.Kind, "line %d: want a mapping", m.Line)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// promProc is a Prometheus server started by a test.
type promProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	done chan struct{}

	mu  sync.Mutex
	log bytes.Buffer
}

func (p *promProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

func (p *promProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPrometheus starts dir/prometheus on a free loopback port, with its
// TSDB in a temp dir and a configuration that scrapes targets every second
// as job="quantumflow-worker" and evaluates the rule file rules every
// second. It waits until the server is ready, and stops it at cleanup
// (SIGTERM, then SIGKILL); its log is shown if the test failed.
func startPrometheus(t *testing.T, dir, rules string, targets []string) *promProc {
	t.Helper()
	tmp := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: quantumflow-worker
    metrics_path: /metrics
    static_configs:
      - targets: [%s]
`, strconv.Quote(rules), strings.Join(quoted, ", "))
	configFile := filepath.Join(tmp, "prometheus.yml")
	require.NoError(t, os.WriteFile(configFile, []byte(config), 0o600))

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := &promProc{t: t, url: "http://" + addr, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(dir, "prometheus"),
		"--config.file="+configFile,
		"--storage.tsdb.path="+filepath.Join(tmp, "data"),
		"--web.listen-address="+addr,
		"--log.level=info",
	)
	p.cmd.Dir = tmp
	p.cmd.Stdout, p.cmd.Stderr = p, p
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("prometheus ignored SIGTERM for 10s; killing it")
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("prometheus config:\n%s\nprometheus log:\n%s", config, p.output())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("prometheus exited before it was ready:\n%s", p.output())
		default:
		}
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30s:\n%s", p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// api GETs a path of Prometheus's HTTP API and decodes its data.
func (p *promProc) api(path string, data any) {
	p.t.Helper()
	resp, err := http.Get(p.url + path)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	require.NoError(p.t, json.NewDecoder(resp.Body).Decode(&body), "GET %s", path)
	require.Equal(p.t, "success", body.Status, "GET %s: %s", path, body.Error)
	require.NoError(p.t, json.Unmarshal(body.Data, data), "GET %s", path)
}

// query evaluates an instant query and returns its samples' values by
// their labels' text ({a="b"}).
func (p *promProc) query(q string) map[string]float64 {
	p.t.Helper()
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	p.api("/api/v1/query?query="+url.QueryEscape(q), &data)
	require.Equal(p.t, "vector", data.ResultType, "query %s", q)
	out := map[string]float64{}
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(p.t, err, "query %s: value %v", q, r.Value)
		out[fmt.Sprint(r.Metric)] = v
	}
	return out
}

// promAlert is an entry of /api/v1/alerts.
type promAlert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"` // pending or firing
	ActiveAt time.Time         `json:"activeAt"`
}

func (p *promProc) alerts() []promAlert {
	p.t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	p.api("/api/v1/alerts", &data)
	return data.Alerts
}

// firing returns the firing alert named name whose labels include labels.
func firing(alerts []promAlert, name string, labels map[string]string) (promAlert, bool) {
	for _, a := range alerts {
		if a.Labels["alertname"] != name || a.State != "firing" {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && a.Labels[k] == v
		}
		if match {
			return a, true
		}
	}
	return promAlert{}, false
}

// alertTiming is how long after its fault an alert became pending
// (activeAt, the first evaluation in which its expression held) and was
// seen firing in /api/v1/alerts.
type alertTiming struct {
	name            string
	pending, firing time.Duration
}

// waitFiring polls /api/v1/alerts every 200 ms until the alert fires,
// failing the test timeout after fault, and returns its timing. The
// alerts in also are timed into seen as they fire meanwhile (each once).
func (p *promProc) waitFiring(fault time.Time, timeout time.Duration, name string, labels map[string]string, also map[string]map[string]string, seen map[string]alertTiming) alertTiming {
	p.t.Helper()
	deadline := fault.Add(timeout)
	for {
		as := p.alerts()
		now := time.Now()
		for n, l := range also {
			if _, done := seen[n]; done {
				continue
			}
			if a, ok := firing(as, n, l); ok {
				seen[n] = alertTiming{n, a.ActiveAt.Sub(fault), now.Sub(fault)}
			}
		}
		if a, ok := firing(as, name, labels); ok {
			return alertTiming{name, a.ActiveAt.Sub(fault), now.Sub(fault)}
		}
		if now.After(deadline) {
			p.t.Fatalf("%s%v not firing %s after its fault; alerts: %+v", name, labels, timeout, as)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAlertsFireLive runs the alert rules in a real Prometheus (Debian's,
// from scripts/ensure-prometheus.sh) against real workers. Prometheus
// scrapes two workers every second as job="quantumflow-worker" and
// evaluates every second a copy of deploy/prometheus/quantumflow-rules.yml
// whose `for` and range windows are divided by 60 (15m → 15s, 5m → 5s,
// 1m → 1s; shortenRules). After a workflow through both workers:
//
//  1. One worker (--db-metrics=off) stops, and a workflow is submitted
//     whose node waits in queue "stalled", which the remaining worker
//     (--db-metrics=on, so it exports quantumflow_queue_jobs) does not
//     serve: QuantumFlowQueueNotDraining must fire for that queue, once
//     the fleet has worked no job for the (scaled) 15 minutes.
//     QuantumFlowWorkerDown for the stopped worker is timed on the way.
//  2. The last worker stops: QuantumFlowNoWorkers must fire.
//
// It logs how long after each fault each alert became pending and was
// seen firing (docs/OPERATIONS.md, "Alerts", quotes them).
func TestAlertsFireLive(t *testing.T) {
	t.Parallel()
	dir := prometheusDir(t)
	rules := filepath.Join(t.TempDir(), "quantumflow-rules.yml")
	fors := shortenRules(t, filepath.Join(moduleRoot, "deploy", "prometheus", "quantumflow-rules.yml"), rules)
	require.Equal(t, "1s", fors["QuantumFlowNoWorkers"])
	require.Equal(t, "5s", fors["QuantumFlowQueueNotDraining"])

	e := newEnv(t)
	collector := e.startWorker(t, "--db-metrics=on")
	other := e.startWorker(t, "--db-metrics=off")
	prom := startPrometheus(t, dir, rules, []string{collector.addr(), other.addr()})

	// Prometheus loaded the shortened rules.
	var groups struct {
		Groups []struct {
			Rules []struct {
				Name     string  `json:"name"`
				Type     string  `json:"type"`
				Duration float64 `json:"duration"`
				Query    string  `json:"query"`
			} `json:"rules"`
		} `json:"groups"`
	}
	prom.api("/api/v1/rules?type=alert", &groups)
	loaded := map[string]float64{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			loaded[r.Name] = r.Duration
			require.NotContains(t, r.Query, "m]", "rule %s kept a window in minutes", r.Name)
		}
	}
	require.Equal(t, 1.0, loaded["QuantumFlowNoWorkers"], "rules loaded: %v", loaded)
	require.Equal(t, 5.0, loaded["QuantumFlowQueueNotDraining"], "rules loaded: %v", loaded)

	waitFor(t, 15*time.Second, "prometheus scrapes both workers", func() bool {
		up := prom.query(`sum(up{job="quantumflow-worker"})`)
		return len(up) == 1 && up["map[]"] == 2
	})

	// A workflow through both workers while Prometheus scrapes them.
	var spec strings.Builder
	spec.WriteString("name: live\nnodes:\n")
	for i := range 8 {
		fmt.Fprintf(&spec, "  - {id: n%d, kind: sleep, args: {ms: 300}}\n", i)
	}
	spec.WriteString("  - {id: last, kind: echo, deps: [n0, n1, n2, n3, n4, n5, n6, n7]}\n")
	require.Equal(t, 0, e.enqueue("submit", "--wait", writeFile(t, "live.yaml", spec.String())).code)
	worked := time.Now()
	waitFor(t, 10*time.Second, "prometheus has scraped the workflow's 9 jobs", func() bool {
		v := prom.query(`sum(quantumflow_jobs_worked_total{job="quantumflow-worker", outcome="completed"})`)
		return v["map[]"] == 9
	})
	as := prom.alerts()
	for _, n := range []string{"QuantumFlowNoWorkers", "QuantumFlowQueueNotDraining", "QuantumFlowWorkerDown"} {
		_, ok := firing(as, n, nil)
		require.False(t, ok, "%s fires before its fault: %+v", n, as)
	}

	// Fault 1: a queue nobody serves holds an available job, one worker
	// is gone, the other (collecting) works nothing.
	other.stop()
	stopped := time.Now()
	e.submit(writeFile(t, "stalled.yaml", "name: stalled\nnodes:\n  - {id: s, kind: noop, queue: stalled}\n"))
	stalled := time.Now()
	seen := map[string]alertTiming{}
	notDraining := prom.waitFiring(stalled, 45*time.Second, "QuantumFlowQueueNotDraining", map[string]string{"queue": "stalled"},
		map[string]map[string]string{"QuantumFlowWorkerDown": {"instance": other.addr()}}, seen)
	_, ok := firing(prom.alerts(), "QuantumFlowNoWorkers", nil)
	require.False(t, ok, "QuantumFlowNoWorkers fires while a worker is up")
	workerDown, ok := seen["QuantumFlowWorkerDown"]
	if !ok {
		workerDown = prom.waitFiring(stopped, 15*time.Second, "QuantumFlowWorkerDown", map[string]string{"instance": other.addr()}, nil, nil)
	} else {
		// timed from the submit: rebase on the stop.
		workerDown.pending += stalled.Sub(stopped)
		workerDown.firing += stalled.Sub(stopped)
	}

	// Fault 2: no worker at all.
	collector.stop()
	allDown := time.Now()
	noWorkers := prom.waitFiring(allDown, 20*time.Second, "QuantumFlowNoWorkers", nil, nil, nil)

	t.Logf("alert timings (rules' durations divided by %d; scrape and evaluation every 1s):", rulesTimeScale)
	t.Logf("  %s (for %s): stalled job submitted %.1fs after the last job was worked; pending after %.1fs, firing after %.1fs",
		notDraining.name, fors[notDraining.name], stalled.Sub(worked).Seconds(), notDraining.pending.Seconds(), notDraining.firing.Seconds())
	t.Logf("  %s (for %s): after the worker stopped, pending after %.1fs, firing after %.1fs",
		workerDown.name, fors[workerDown.name], workerDown.pending.Seconds(), workerDown.firing.Seconds())
	t.Logf("  %s (for %s): after the last worker stopped, pending after %.1fs, firing after %.1fs",
		noWorkers.name, fors[noWorkers.name], noWorkers.pending.Seconds(), noWorkers.firing.Seconds())
}
