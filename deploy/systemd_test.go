package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	unitFile = "systemd/quantumflow-worker.service"
	envFile  = "systemd/worker.env.example"
)

// keyValues reads KEY=VALUE lines (unit directives or an environment file),
// skipping comments and section headers; repeated keys keep every value.
func keyValues(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	kv := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q", path, line)
		kv[k] = append(kv[k], v)
	}
	require.NoError(t, sc.Err())
	return kv
}

// TestSystemdUnit runs `systemd-analyze verify` on the unit (with ExecStart
// and EnvironmentFile pointed at files the test creates, since verify wants
// the binary to exist) and requires it to print nothing, warnings included;
// `systemd-analyze security --offline` must rate its exposure at most 2.0;
// and the stop timeout must outlast the example's shutdown grace.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	require.NoError(t, err, "systemd-analyze is needed (Debian: apt-get install systemd)")

	unit, err := os.ReadFile(unitFile)
	require.NoError(t, err)
	dir := t.TempDir()
	worker := filepath.Join(dir, "worker")
	require.NoError(t, os.WriteFile(worker, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	env := filepath.Join(dir, "worker.env")
	example, err := os.ReadFile(envFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(env, example, 0o600))
	text := string(unit)
	require.Contains(t, text, "\nExecStart=/usr/local/bin/worker\n")
	require.Contains(t, text, "\nEnvironmentFile=/etc/quantumflow/worker.env\n")
	text = strings.Replace(text, "\nExecStart=/usr/local/bin/worker\n", "\nExecStart="+worker+"\n", 1)
	text = strings.Replace(text, "\nEnvironmentFile=/etc/quantumflow/worker.env\n", "\nEnvironmentFile="+env+"\n", 1)
	test := filepath.Join(dir, filepath.Base(unitFile))
	require.NoError(t, os.WriteFile(test, []byte(text), 0o644))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", test).CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify printed warnings")

	out, err = exec.CommandContext(ctx, analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", test).CombinedOutput()
	require.NoError(t, err, "systemd-analyze security --offline --threshold=20 (exposure above 2.0):\n%s", out)

	kv := keyValues(t, unitFile)
	require.Equal(t, []string{"SIGTERM"}, kv["KillSignal"])
	for _, k := range []string{"NoNewPrivileges", "ProtectSystem", "DynamicUser", "PrivateTmp", "ProtectHome", "CapabilityBoundingSet", "RestrictAddressFamilies", "SystemCallFilter"} {
		require.Contains(t, kv, k, "hardening option %s", k)
	}
	require.Equal(t, []string{"strict"}, kv["ProtectSystem"])
	stop, err := time.ParseDuration(kv["TimeoutStopSec"][0])
	require.NoError(t, err)
	envs := keyValues(t, envFile)
	require.Contains(t, envs, "DATABASE_URL")
	grace, err := time.ParseDuration(envs["QF_SHUTDOWN_GRACE"][0])
	require.NoError(t, err)
	require.Greater(t, stop, grace+5*time.Second, "TimeoutStopSec must outlast QF_SHUTDOWN_GRACE and the 5 s for cancelled jobs")
}
