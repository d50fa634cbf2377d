package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// TestFlagsIngest: the ingestion kinds run by default; --ingest=false or
// QF_INGEST=false turns them off, and the flag wins over the variable.
func TestFlagsIngest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  string
		off  bool
	}{
		{"default", nil, "", false},
		{"flag off", []string{"--ingest=false"}, "", true},
		{"env off", nil, "false", true},
		{"flag wins", []string{"--ingest=true"}, "false", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": testDBURL}
			if tc.env != "" {
				env["QF_INGEST"] = tc.env
			}
			got, code, _, stderr := parse(t, tc.args, env)
			require.Equal(t, cliutil.ExitOK, code, stderr)
			require.Equal(t, tc.off, got.cfg.noIngest)
		})
	}
}
