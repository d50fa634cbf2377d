//go:build !cgo

package parse

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoCgo checks that a build without cgo parses Go and reports every
// tree-sitter language as unsupported.
func TestNoCgo(t *testing.T) {
	t.Parallel()

	require.True(t, Supported("go"))
	for _, l := range []string{"python", "javascript", "typescript", "tsx", "rust", "elixir"} {
		require.False(t, Supported(l), l)
		_, err := Parse(l, []byte("x = 1"))
		require.ErrorIs(t, err, ErrUnsupported)
	}
}
