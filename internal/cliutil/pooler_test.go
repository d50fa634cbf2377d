package cliutil

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

func TestOpenPoolPlanCacheModeOnlyWithNamedStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// sent: whether plan_cache_mode came from the client's startup packet.
	for _, tt := range []struct {
		mode string
		sent bool
	}{
		{"", true},
		{"cache_statement", true},
		{"exec", false}, // a PgBouncer in transaction mode would refuse it
		{"simple_protocol", false},
		{"cache_describe", false},
	} {
		u, err := url.Parse(pgtest.ServerURL())
		require.NoError(t, err)
		if tt.mode != "" {
			q := u.Query()
			q.Set("default_query_exec_mode", tt.mode)
			u.RawQuery = q.Encode()
		}
		pool, err := OpenPool(ctx, u.String(), PoolOptions{MaxConns: 1})
		require.NoError(t, err, tt.mode)
		var setting, source string
		require.NoError(t, pool.QueryRow(ctx, `SELECT setting, source FROM pg_settings WHERE name = 'plan_cache_mode'`).Scan(&setting, &source))
		pool.Close()
		if tt.sent {
			require.Equal(t, []string{"force_custom_plan", "client"}, []string{setting, source}, tt.mode)
		} else {
			require.NotEqual(t, "client", source, tt.mode)
		}
	}
}

func TestPoolerHint(t *testing.T) {
	t.Parallel()
	require.Empty(t, poolerHint(nil))
	require.Empty(t, poolerHint(errors.New("connection refused")))
	require.Contains(t, poolerHint(errors.New("FATAL: unsupported startup parameter: search_path (SQLSTATE 08P01)")), "docs/OPERATIONS.md, PgBouncer")
}
