package fleet

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRejoinID(t *testing.T) {
	t.Parallel()
	suffix := regexp.MustCompile(`-rj[0-9a-f]{8}$`)
	tests := []struct{ old, base string }{
		{"worker-7f9c-0", "worker-7f9c-0"},
		{"worker-7f9c-0-rj0123abcd", "worker-7f9c-0"},                            // a second rejoin replaces the suffix
		{"pod-rjzzzzzzzz", "pod-rjzzzzzzzz"},                                     // not a rejoin suffix
		{strings.Repeat("h", IDMax), strings.Repeat("h", IDMax-rejoinSuffixLen)}, // within River's limit
	}
	for _, tt := range tests {
		got := RejoinID(tt.old)
		require.LessOrEqual(t, len(got), IDMax, tt.old)
		require.Regexp(t, suffix, got)
		require.Equal(t, tt.base, suffix.ReplaceAllString(got, ""), tt.old)
		require.NotEqual(t, got, RejoinID(tt.old), "fresh each time")
	}
}
