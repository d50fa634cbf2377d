package cliutil_test

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/cliutil"
)

func TestBuildOf(t *testing.T) {
	t.Parallel()
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name          string
		info          debug.BuildInfo
		version, line string
	}{
		{"tagged", debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: vcs("false")},
			"v1.2.0", "v1.2.0 (commit " + rev + ")"},
		{"pseudo-version, dirty", debug.BuildInfo{Main: debug.Module{Version: "v1.2.1-0.20261201115900-0123456789ab+dirty"}, Settings: vcs("true")},
			"v1.2.1-0.20261201115900-0123456789ab+dirty", "v1.2.1-0.20261201115900-0123456789ab+dirty (commit " + rev + ", modified)"},
		{"devel with commit", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")},
			"0123456789ab", "(devel) (commit " + rev + ")"},
		{"devel, modified", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			"0123456789ab-dirty", "(devel) (commit " + rev + ", modified)"},
		{"nothing recorded", debug.BuildInfo{},
			"(devel)", "(devel) (commit unknown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := cliutil.BuildOf(&tc.info)
			require.Equal(t, tc.version, b.Version())
			require.Equal(t, tc.line, b.String())
		})
	}
}
