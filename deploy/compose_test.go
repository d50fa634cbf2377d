package deploy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const composeFile = "compose/docker-compose.yml"

// dockerCompose returns the path of docker-compose, installing it through
// scripts/ensure-docker-compose.sh when it is missing. It fails the test,
// never skips it, when docker-compose cannot be had.
func dockerCompose(t *testing.T) string {
	t.Helper()
	return ensureTool(t, "ensure-docker-compose.sh")
}

type composeConfig struct {
	Services map[string]struct {
		Image           string            `yaml:"image"`
		Command         []string          `yaml:"command"`
		Environment     map[string]string `yaml:"environment"`
		Volumes         []any             `yaml:"volumes"`
		User            string            `yaml:"user"`
		ReadOnly        bool              `yaml:"read_only"`
		CapDrop         []string          `yaml:"cap_drop"`
		StopGracePeriod string            `yaml:"stop_grace_period"`
		DependsOn       map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestCompose validates deploy/compose/docker-compose.yml with
// `docker-compose config -q` (no Docker engine needed) and checks the
// resolved configuration: PostgreSQL, migrate before three workers that
// Prometheus's example config scrapes, Prometheus with deploy/prometheus and
// Grafana with deploy/grafana mounted, hardened worker containers.
func TestCompose(t *testing.T) {
	dc := dockerCompose(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, dc, "-f", composeFile, "config", "-q").CombinedOutput()
	require.NoError(t, err, "docker-compose config -q:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "docker-compose config -q printed warnings")

	cmd := exec.CommandContext(ctx, dc, "-f", composeFile, "config")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	resolved, err := cmd.Output()
	require.NoError(t, err, "docker-compose config:\n%s", stderr.String())
	var cfg composeConfig
	require.NoError(t, yaml.Unmarshal(resolved, &cfg))

	for _, s := range []string{"postgres", "migrate", "worker-1", "worker-2", "worker-3", "prometheus", "grafana"} {
		require.Contains(t, cfg.Services, s)
	}
	require.Equal(t, []string{"migrate"}, cfg.Services["migrate"].Command)
	require.Equal(t, "service_healthy", cfg.Services["migrate"].DependsOn["postgres"].Condition)

	prom, err := os.ReadFile(configFile)
	require.NoError(t, err)
	for _, w := range []string{"worker-1", "worker-2", "worker-3"} {
		s := cfg.Services[w]
		require.Equal(t, "service_completed_successfully", s.DependsOn["migrate"].Condition, w)
		require.Equal(t, "0.0.0.0:9464", s.Environment["QF_METRICS_ADDR"], w)
		require.Equal(t, w, s.Environment["QF_ID"], w)
		require.Contains(t, s.Environment["DATABASE_URL"], "@postgres:5432/", w)
		require.Contains(t, string(prom), w+":9464", "prometheus.yml scrapes %s", w)
		require.True(t, s.ReadOnly, w)
		require.Equal(t, []string{"ALL"}, s.CapDrop, w)
		require.NotEmpty(t, s.User, w)
		require.NotEqual(t, "0", strings.Split(s.User, ":")[0], w)
		require.Equal(t, cfg.Services["migrate"].Image, s.Image, w)
		grace, err := time.ParseDuration(s.Environment["QF_SHUTDOWN_GRACE"])
		require.NoError(t, err, w)
		stop, err := time.ParseDuration(s.StopGracePeriod)
		require.NoError(t, err, w)
		require.Greater(t, stop, grace+5*time.Second, "%s: stop_grace_period must outlast the shutdown grace and the 5 s for cancelled jobs", w)
	}

	abs := func(p string) string {
		a, err := filepath.Abs(p)
		require.NoError(t, err)
		return a
	}
	mounts := func(service string) string {
		var b strings.Builder
		for _, v := range cfg.Services[service].Volumes {
			y, err := yaml.Marshal(v)
			require.NoError(t, err)
			b.Write(y)
		}
		return b.String()
	}
	require.Contains(t, mounts("prometheus"), abs("prometheus"))
	require.Contains(t, mounts("grafana"), abs("grafana/provisioning/datasources"))
	require.Contains(t, mounts("grafana"), abs("grafana/provisioning/dashboards"))
	require.Contains(t, mounts("grafana"), abs("grafana/dashboards")+":/var/lib/grafana/dashboards/quantumflow")
}
