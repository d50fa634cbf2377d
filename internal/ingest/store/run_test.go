package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/ingest/store"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// TestAnalyze: Analyze gives every code table planner statistics, in the
// schema the pool selects (whatever autovacuum does: it is off on some
// servers, this one included).
func TestAnalyze(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	require.NoError(t, store.Analyze(t.Context(), db.Pool))
	// The statistics collector reports asynchronously.
	require.Eventually(t, func() bool {
		var missing int
		require.NoError(t, db.Pool.QueryRow(t.Context(), `
SELECT count(*) FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname IN
      ('qf_code_file', 'qf_code_symbol', 'qf_code_chunk', 'qf_code_import', 'qf_code_ref', 'qf_code_edge', 'qf_code_centroid')
  AND last_analyze IS NULL`).Scan(&missing))
		return missing == 0
	}, 10*time.Second, 50*time.Millisecond, "every code table analyzed")
}
