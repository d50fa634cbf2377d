package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/console"
)

// TestListPlans: on 20 000 workflows every filter combination of the list
// reads an index in the page's order: no sequential scan, no full sort, so a
// page costs the same at any depth of a 100 000-row table.
func TestListPlans(t *testing.T) {
	t.Parallel()
	b := setup(t, testCreds)
	seedWorkflows(t, b, 20_000, time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	_, err := b.db.Pool.Exec(t.Context(), `ANALYZE qf_workflow`)
	require.NoError(t, err)
	after := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		p    console.ListParams
	}{
		{"newest", console.ListParams{}},
		{"deep page", console.ListParams{Cursor: "1796126400000000_5e0c0a47-7a3b-4d0a-9d7e-3f3f3f3f3f3f"}},
		{"status", console.ListParams{Status: flowtype.WorkflowRunning}},
		{"status deep", console.ListParams{Status: flowtype.WorkflowRunning, Cursor: "1796126400000000_5e0c0a47-7a3b-4d0a-9d7e-3f3f3f3f3f3f"}},
		{"name prefix", console.ListParams{NamePrefix: "name-3-1"}},
		{"created after", console.ListParams{CreatedAfter: &after}},
	}
	for _, tt := range tests {
		sql, args, err := console.ListSQL(&tt.p)
		require.NoError(t, err)
		rows, err := b.db.Pool.Query(t.Context(), "EXPLAIN "+sql, args...)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		plan := strings.Join(lines, "\n")
		require.NotContains(t, plan, "Seq Scan", "%s:\n%s", tt.name, plan)
		// An incremental sort of ties on created_at (by id) is fine; a
		// full sort would read every matching row.
		require.NotRegexp(t, `(^|->\s+)Sort\s+\(`, plan, "%s:\n%s", tt.name, plan)
		require.Contains(t, plan, "Index", "%s:\n%s", tt.name, plan)
		if tt.p.Status == "" && tt.p.NamePrefix == "" && tt.p.CreatedAfter == nil {
			// Unfiltered, qf_workflow_created_id_idx is the page's order.
			require.NotContains(t, plan, "Sort", "%s:\n%s", tt.name, plan)
		}
	}
}
