package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/cliutil"
)

func TestFlagsPollOnly(t *testing.T) {
	t.Parallel()
	db := map[string]string{"DATABASE_URL": testDBURL}
	got, code, _, stderr := parse(t, nil, db)
	require.Equal(t, cliutil.ExitOK, code, stderr)
	require.False(t, got.cfg.pollOnly, "LISTEN/NOTIFY by default")

	got, code, _, stderr = parse(t, []string{"--poll-only"}, db)
	require.Equal(t, cliutil.ExitOK, code, stderr)
	require.True(t, got.cfg.pollOnly)

	got, code, _, stderr = parse(t, nil, map[string]string{"DATABASE_URL": testDBURL, "QF_POLL_ONLY": "true"})
	require.Equal(t, cliutil.ExitOK, code, stderr)
	require.True(t, got.cfg.pollOnly)

	got, code, _, stderr = parse(t, []string{"--poll-only=false"}, map[string]string{"DATABASE_URL": testDBURL, "QF_POLL_ONLY": "true"})
	require.Equal(t, cliutil.ExitOK, code, stderr)
	require.False(t, got.cfg.pollOnly, "the flag wins over QF_POLL_ONLY")

	_, code, _, stderr = parse(t, nil, map[string]string{"DATABASE_URL": testDBURL, "QF_POLL_ONLY": "maybe"})
	require.Equal(t, cliutil.ExitUsage, code)
	require.Contains(t, stderr, "QF_POLL_ONLY")
}
