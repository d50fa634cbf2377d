package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/cliutil"
)

const testDBURL = "postgres://app@db.example:5432/app"

// parsed is what the command line handed to the run or migrate action.
type parsed struct {
	cfg         *config
	level       slog.Level
	migrateURL  string
	migrateJSON bool
	ranMigrate  bool
}

// parse runs the command line with actions that only record what they got.
func parse(t *testing.T, args []string, env map[string]string) (*parsed, int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	got := &parsed{}
	p := &proc{
		args:   args,
		getenv: func(k string) string { return env[k] },
		stdout: &stdout,
		stderr: &stderr,
		newID:  func() string { return "host-1-cafe" },
	}
	code := execute(context.Background(), p, actions{
		run: func(_ context.Context, _ *proc, cfg *config, _ *slog.Logger, level slog.Level, _ string) error {
			got.cfg, got.level = cfg, level
			return nil
		},
		migrate: func(_ context.Context, _ *proc, u string, jsonOut bool, _ *slog.Logger) error {
			got.ranMigrate, got.migrateURL, got.migrateJSON = true, u, jsonOut
			return nil
		},
	})
	return got, code, stdout.String(), stderr.String()
}

func TestFlagsDefaults(t *testing.T) {
	t.Parallel()
	got, code, _, stderr := parse(t, nil, map[string]string{"DATABASE_URL": testDBURL})
	require.Equal(t, cliutil.ExitOK, code, stderr)
	require.Equal(t, &config{
		databaseURL:       testDBURL,
		queues:            []queue{{name: "default", maxWorkers: 1000}},
		metricsAddr:       "127.0.0.1:9464",
		shutdownGrace:     30 * time.Second,
		id:                "host-1-cafe",
		heartbeatInterval: time.Second,
		deadAfter:         5 * time.Second,
		poolMaxConns:      10, // derived: 9 + 1 queue, whatever its N
		fetchCooldown:     2 * time.Millisecond,
		fetchPollInterval: 100 * time.Millisecond,
		jobTimeout:        time.Minute,
		poolIdleTimeout:   10 * time.Second,
		dbMetrics:         "auto",
	}, got.cfg)
	require.Equal(t, slog.LevelInfo, got.level)
}

func TestFlagsFromEnvAndFlagsWin(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":           "postgres://env@db.example/env",
		"QF_QUEUES":              "a=1, b-2=2",
		"QF_METRICS_ADDR":        "off",
		"QF_SHUTDOWN_GRACE":      "5s",
		"QF_LOG_LEVEL":           "debug",
		"QF_ID":                  "env-id",
		"QF_HEARTBEAT_INTERVAL":  "200ms",
		"QF_DEAD_AFTER":          "600ms",
		"QF_POOL_MAX_CONNS":      "12",
		"QF_FETCH_COOLDOWN":      "10ms",
		"QF_FETCH_POLL_INTERVAL": "1s",
		"QF_JOB_TIMEOUT":         "0s",
		"QF_MIGRATE":             "true",
		"QF_DB_METRICS":          "on",
	}
	got, code, _, stderr := parse(t, nil, env)
	require.Equal(t, cliutil.ExitOK, code, stderr)
	require.Equal(t, &config{
		databaseURL:       "postgres://env@db.example/env",
		queues:            []queue{{name: "a", maxWorkers: 1}, {name: "b-2", maxWorkers: 2}},
		metricsAddr:       "",
		shutdownGrace:     5 * time.Second,
		id:                "env-id",
		heartbeatInterval: 200 * time.Millisecond,
		deadAfter:         600 * time.Millisecond,
		poolMaxConns:      12,
		fetchCooldown:     10 * time.Millisecond,
		fetchPollInterval: time.Second,
		jobTimeout:        0,
		migrate:           true,
		poolIdleTimeout:   10 * time.Second,
		dbMetrics:         "on",
	}, got.cfg)
	require.Equal(t, slog.LevelDebug, got.level)

	// The same environment, with flags: every flag wins over its variable.
	got, code, _, stderr = parse(t, []string{
		"--database-url", testDBURL, "--queues", "c=3", "--metrics-addr", "127.0.0.1:0",
		"--shutdown-grace", "0s", "--log-level", "warn", "--id", "flag-id",
		"--heartbeat-interval", "1s", "--dead-after", "3s", "--pool-max-conns", "0",
		"--fetch-cooldown", "1ms", "--fetch-poll-interval", "1ms", "--job-timeout", "2m", "--migrate=false",
		"--db-metrics", "off",
	}, env)
	require.Equal(t, cliutil.ExitOK, code, stderr)
	require.Equal(t, &config{
		databaseURL:       testDBURL,
		queues:            []queue{{name: "c", maxWorkers: 3}},
		metricsAddr:       "127.0.0.1:0",
		shutdownGrace:     0,
		id:                "flag-id",
		heartbeatInterval: time.Second,
		deadAfter:         3 * time.Second,
		poolMaxConns:      10, // derived: 9 + 1 queue
		fetchCooldown:     time.Millisecond,
		fetchPollInterval: time.Millisecond,
		jobTimeout:        2 * time.Minute,
		poolIdleTimeout:   10 * time.Second,
		dbMetrics:         "off",
	}, got.cfg)
	require.Equal(t, slog.LevelWarn, got.level)
}

func TestFlagsInvalid(t *testing.T) {
	t.Parallel()
	db := map[string]string{"DATABASE_URL": testDBURL}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of stderr
	}{
		{"queue without N", []string{"--queues", "default"}, db, []string{"--queues:", `"default": want name=N`}},
		{"queue upper case", []string{"--queues", "Default=1"}, db, []string{"--queues:", `queue name "Default"`}},
		{"queue trailing underscore", []string{"--queues", "a_=1"}, db, []string{"--queues:", `queue name "a_"`}},
		{"queue N zero", []string{"--queues", "a=0"}, db, []string{"--queues:", "from 1 to 10000"}},
		{"queue N too big", []string{"--queues", "a=10001"}, db, []string{"--queues:", "from 1 to 10000"}},
		{"queue N not a number", []string{"--queues", "a=x"}, db, []string{"--queues:", `(got "x")`}},
		{"queue twice", []string{"--queues", "a=1,a=2"}, db, []string{"--queues:", `"a" given twice`}},
		{"no queue", []string{"--queues", " , "}, db, []string{"--queues:", "no queue given"}},
		{"queue from env", nil, map[string]string{"DATABASE_URL": testDBURL, "QF_QUEUES": "bad"}, []string{"--queues (from QF_QUEUES):"}},
		{"metrics addr without port", []string{"--metrics-addr", "localhost"}, db, []string{"--metrics-addr:", "want host:port"}},
		{"metrics addr bad port", []string{"--metrics-addr", "127.0.0.1:70000"}, db, []string{"--metrics-addr:", "port must be"}},
		{"negative grace", []string{"--shutdown-grace", "-1s"}, db, []string{"--shutdown-grace:", "must not be negative"}},
		{"duration from env", nil, map[string]string{"DATABASE_URL": testDBURL, "QF_SHUTDOWN_GRACE": "soon"}, []string{"--shutdown-grace: QF_SHUTDOWN_GRACE=\"soon\""}},
		{"duration flag", []string{"--shutdown-grace", "soon"}, db, []string{"shutdown-grace"}},
		{"id too long", []string{"--id", string(bytes.Repeat([]byte("x"), 101))}, db, []string{"--id:", "at most 100"}},
		{"id with space", []string{"--id", "a b"}, db, []string{"--id:", "no spaces"}},
		{"heartbeat too short", []string{"--heartbeat-interval", "1ms"}, db, []string{"--heartbeat-interval:", "at least 10ms"}},
		{"dead-after too short", []string{"--dead-after", "2s"}, db, []string{"--dead-after:", "3 × --heartbeat-interval"}},
		{"pool too small", []string{"--pool-max-conns", "3"}, db, []string{"--pool-max-conns:", "from 4 to 10000"}},
		{"pool negative", []string{"--pool-max-conns", "-1"}, db, []string{"--pool-max-conns:"}},
		{"fetch cooldown zero", []string{"--fetch-cooldown", "0s"}, db, []string{"--fetch-cooldown:", "at least 1ms"}},
		{"poll shorter than cooldown", []string{"--fetch-cooldown", "50ms", "--fetch-poll-interval", "10ms"}, db, []string{"--fetch-poll-interval:", "--fetch-cooldown"}},
		{"negative job timeout", []string{"--job-timeout", "-1ns"}, db, []string{"--job-timeout:", "never rescues"}},
		{"bad db-metrics", []string{"--db-metrics", "leader"}, db, []string{"--db-metrics:", `"leader"`, "auto, on or off"}},
		{"bad log level", []string{"--log-level", "loud"}, db, []string{"--log-level:", "unknown log level"}},
		{"bad log format", []string{"--log-format", "xml"}, db, []string{"--log-format:", `"xml"`}},
		{"bad log format from env", nil, map[string]string{"DATABASE_URL": testDBURL, "QF_LOG_FORMAT": "xml"}, []string{"--log-format (from QF_LOG_FORMAT):"}},
		{"unknown flag", []string{"--queue", "a=1"}, db, []string{"unknown flag: --queue"}},
		{"positional argument", []string{"run"}, db, []string{`unknown command or argument "run"`}},
		{"bad migrate output", []string{"migrate", "-o", "yaml"}, db, []string{"-o:", `"yaml"`}},
		{"database URL does not parse", []string{"--database-url", "postgres://u:s3cret@db:notaport/app"}, nil, []string{"does not parse"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, code, _, stderr := parse(t, tt.args, tt.env)
			require.Equal(t, cliutil.ExitUsage, code, stderr)
			require.Nil(t, got.cfg, "the run must not start")
			require.False(t, got.ranMigrate, "migrate must not run")
			require.NotContains(t, stderr, "s3cret")
			for _, w := range tt.want {
				require.Contains(t, stderr, w)
			}
		})
	}
}

func TestFlagsMigrate(t *testing.T) {
	t.Parallel()
	// Run-only settings, even invalid ones, do not concern migrate.
	got, code, _, stderr := parse(t, []string{"migrate", "-o", "json"},
		map[string]string{"DATABASE_URL": testDBURL, "QF_QUEUES": "bad"})
	require.Equal(t, cliutil.ExitOK, code, stderr)
	require.True(t, got.ranMigrate)
	require.True(t, got.migrateJSON)
	require.Equal(t, testDBURL, got.migrateURL)
	require.Nil(t, got.cfg)

	got, code, _, stderr = parse(t, []string{"migrate", "--database-url", "postgres://flag@db/x", "--log-level", "error"},
		map[string]string{"DATABASE_URL": testDBURL})
	require.Equal(t, cliutil.ExitOK, code, stderr)
	require.Equal(t, "postgres://flag@db/x", got.migrateURL)
	require.False(t, got.migrateJSON)
}

func TestHelpNamesEveryEnvironmentVariable(t *testing.T) {
	t.Parallel()
	_, code, stdout, _ := parse(t, []string{"--help"}, nil)
	require.Equal(t, cliutil.ExitOK, code)
	for _, env := range []string{
		"DATABASE_URL", "QF_QUEUES", "QF_METRICS_ADDR", "QF_SHUTDOWN_GRACE", "QF_LOG_FORMAT", "QF_LOG_LEVEL",
		"QF_ID", "QF_HEARTBEAT_INTERVAL", "QF_DEAD_AFTER", "QF_POOL_MAX_CONNS", "QF_FETCH_COOLDOWN",
		"QF_FETCH_POLL_INTERVAL", "QF_JOB_TIMEOUT", "QF_MIGRATE",
	} {
		require.Contains(t, stdout, "[env "+env+"]")
	}
	require.Contains(t, stdout, "wins over its variable")

	_, code, stdout, _ = parse(t, []string{"migrate", "--help"}, nil)
	require.Equal(t, cliutil.ExitOK, code)
	require.Contains(t, stdout, "[env DATABASE_URL]")
	require.NotContains(t, stdout, "QF_QUEUES")
}

// TestFlagsNoDatabase is not parallel: it clears DATABASE_URL in the
// process environment, which cliutil.DatabaseURL reads.
func TestFlagsNoDatabase(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	for _, args := range [][]string{nil, {"migrate"}} {
		got, code, _, stderr := parse(t, args, nil)
		require.Equal(t, cliutil.ExitUsage, code, stderr)
		require.Contains(t, stderr, "DATABASE_URL")
		require.Nil(t, got.cfg)
		require.False(t, got.ranMigrate)
	}
}

func TestParseQueuesKeepsOrder(t *testing.T) {
	t.Parallel()
	qs, err := parseQueues("z=1,a=2,m_x=3")
	require.NoError(t, err)
	require.Equal(t, "z=1,a=2,m_x=3", queueString(qs))
}

// TestVersionFlag: --version prints the module version and commit that the
// build recorded (debug.ReadBuildInfo), needs no database and runs nothing.
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"-v"}} {
		got, code, stdout, stderr := parse(t, args, map[string]string{"QF_QUEUES": "bad"})
		require.Equal(t, cliutil.ExitOK, code, stderr)
		require.Empty(t, stderr)
		b := cliutil.ReadBuild()
		require.Equal(t, "worker "+b.String()+"\n", stdout)
		require.Regexp(t, `^worker \S+ \(commit (unknown|[0-9a-f]{40})(, modified)?\)\n$`, stdout)
		require.Nil(t, got.cfg, "the worker did not run")
		require.False(t, got.ranMigrate)
	}
}
