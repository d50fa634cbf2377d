package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// TestMain lets the test binary be the bench's child processes too: the
// bench starts os.Executable() with QFBENCH_CHILD set.
func TestMain(m *testing.M) {
	if spec, ok := childSpecFromEnv(); ok {
		if err := runChild(context.Background(), spec); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Under -race, a process sleeps a second at exit by default; the smoke
	// run starts a dozen children.
	if os.Getenv("GORACE") == "" {
		_ = os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

// TestSmoke runs every shape at --smoke sizes, with its workers as child
// processes, and checks that the JSON report parses and holds both sides of
// every shape with positive numbers. It checks no speed.
func TestSmoke(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run([]string{"--database-url", pgtest.ServerURL(), "--smoke", "-o", "json"}, &stdout, &stderr)
	t.Logf("smoke run: %s", time.Since(start).Round(time.Millisecond))
	require.Equal(t, 0, code, "stderr:\n%s", stderr.String())

	var rep Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), "stdout:\n%s", stdout.String())
	require.Positive(t, rep.Machine.Cores)
	require.NotEmpty(t, rep.Postgres.Version)
	require.Contains(t, rep.Postgres.Settings, "fsync")
	require.NotEmpty(t, rep.Command)
	require.Zero(t, rep.FailedCount)

	require.Len(t, rep.Shapes, len(allShapes))
	for i, s := range rep.Shapes {
		require.Equal(t, allShapes[i], s.Name)
		require.Empty(t, s.Error, s.Name)
		require.NotEmpty(t, s.Rows, s.Name)
		for side, r := range map[string]*SideResult{"river": s.River, "quantumflow": s.QuantumFlow} {
			what := s.Name + "/" + side
			require.NotNil(t, r, what)
			require.Positive(t, r.Nodes, what)
			require.Positive(t, r.WallSeconds, what)
			require.Positive(t, r.WorkerPeakRSSBytes, what)
			require.Positive(t, r.DB.Commits, what)
			require.Positive(t, r.DB.RowsInserted, what)
			require.Positive(t, r.DB.WALBytes, what)
			require.Positive(t, r.DB.CommitsPerNode, what)
			require.Positive(t, r.DB.WALBytesPerNode, what)
			if s.Name == "submit" {
				require.Positive(t, r.Metrics["process_s"], what)
				require.Positive(t, r.Metrics["call_s"], what)
				continue
			}
			require.Equal(t, r.Nodes, r.Jobs, what)
			require.Positive(t, r.SpanSeconds, what)
			require.Positive(t, r.PerSecond, what)
		}
	}
	byName := map[string]*ShapeResult{}
	for _, s := range rep.Shapes {
		byName[s.Name] = s
	}
	require.Positive(t, byName["chain"].River.Metrics["hop_p50_ms"])
	require.Positive(t, byName["chain"].QuantumFlow.Metrics["hop_p99_ms"])
	require.Positive(t, byName["wide"].QuantumFlow.Metrics["join_delay_ms"])
	require.Positive(t, byName["wide"].Extra["quantumflow_small"].WorkerPeakRSSBytes)
	require.Positive(t, byName["fanin"].QuantumFlow.Metrics["join_delay_ms"])
	require.Positive(t, byName["many"].QuantumFlow.Metrics["workflows_per_s"])
	require.Positive(t, byName["many"].QuantumFlow.Metrics["promotion_p50_ms"])
	for _, name := range []string{"wide", "many"} {
		r := byName[name].Rows[0]
		require.NotNil(t, r.Ratio, name)
		require.NotNil(t, r.GoalMet, name)
	}

	// The run's database (or, where the role may not create one, its
	// schema) is gone.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.ServerURL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	if rep.Database != "" {
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, rep.Database).Scan(&n))
		require.Zero(t, n, "database %s left behind", rep.Database)
		return
	}
	require.NotEmpty(t, rep.Schema)
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, rep.Schema).Scan(&n))
	require.Zero(t, n, "schema %s left behind", rep.Schema)
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want func(t *testing.T, c *config)
		err  string
	}{
		{name: "defaults", want: func(t *testing.T, c *config) {
			require.Equal(t, allShapes, c.Shapes)
			require.Equal(t, 1000, c.ChainHops)
			require.Equal(t, 100_000, c.WideN)
			require.Equal(t, 10_000, c.WideSmallN)
			require.Equal(t, [3]int{10, 10, 100}, c.Tree)
			require.Equal(t, 2000, c.ManyWorkflows)
			require.Equal(t, 100_000, c.SubmitN)
			require.Equal(t, 1000, c.MaxWorkers)
			require.Equal(t, isolationDatabase, c.Isolation)
		}},
		{name: "smoke", args: []string{"--smoke"}, want: func(t *testing.T, c *config) {
			require.Equal(t, 10, c.ChainHops)
			require.Equal(t, 1000, c.WideN)
			require.Equal(t, 100, c.WideSmallN)
			require.Equal(t, [3]int{10, 10, 1}, c.Tree)
			require.Equal(t, smokeMaxWorkers, c.MaxWorkers)
			require.Equal(t, smokePoolMaxConns, c.PoolMaxConns)
		}},
		{name: "explicit sizes survive scale", args: []string{"--scale", "0.1", "--wide-n", "20000", "--shapes", "wide,chain"}, want: func(t *testing.T, c *config) {
			require.Equal(t, []string{"chain", "wide"}, c.Shapes)
			require.Equal(t, 20_000, c.WideN)
			require.Equal(t, 1000, c.WideSmallN)
			require.Equal(t, 100, c.ChainHops)
		}},
		{name: "wide small off", args: []string{"--wide-small-n", "0"}, want: func(t *testing.T, c *config) {
			require.Zero(t, c.WideSmallN)
		}},
		{name: "unknown shape", args: []string{"--shapes", "chain,loop"}, err: `unknown shape "loop"`},
		{name: "bad tree", args: []string{"--tree", "10x10"}, err: "--tree"},
		{name: "bad output", args: []string{"-o", "yaml"}, err: "-o"},
		{name: "cooldown too short", args: []string{"--fetch-cooldown", "100us"}, err: "--fetch-cooldown"},
		{name: "bad isolation", args: []string{"--isolation", "table"}, err: "--isolation"},
		{name: "arguments", args: []string{"extra"}, err: "takes flags only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got *config
			args := append([]string{"--database-url", "postgres://u@h/db"}, tt.args...)
			err := rootCmd(args, &bytes.Buffer{}, &bytes.Buffer{}, func(_ context.Context, c *config) error {
				got = c
				return nil
			}).Execute()
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.Equal(t, 2, cliutil.CodeOf(err))
				return
			}
			require.NoError(t, err)
			tt.want(t, got)
		})
	}
}

func TestPercentileAndLSN(t *testing.T) {
	t.Parallel()
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	require.Equal(t, 5.0, percentile(s, 50))
	require.Equal(t, 10.0, percentile(s, 95))
	require.Equal(t, 1.0, percentile([]float64{1}, 99))
	lsn, err := parseLSN("1/16B3748")
	require.NoError(t, err)
	require.Equal(t, uint64(1)<<32|0x16B3748, lsn)
	_, err = parseLSN("nonsense")
	require.Error(t, err)
}
