package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeExampleMatchesFile keeps README.md's custom worker listing
// identical to examples/customworker/main.go, which the tests build and run.
func TestReadmeExampleMatchesFile(t *testing.T) {
	t.Parallel()
	const marker = "<!-- example: examples/customworker/main.go -->\n```go\n"
	readme, err := os.ReadFile(filepath.Join(moduleRoot, "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), marker)
	require.True(t, ok, "README.md lost the marker %q", marker)
	listing, _, ok := strings.Cut(rest, "```\n")
	require.True(t, ok, "README.md: the listing after the marker is not closed")
	file, err := os.ReadFile(filepath.Join(moduleRoot, "examples", "customworker", "main.go"))
	require.NoError(t, err)
	require.Equal(t, string(file), listing, "README.md's listing differs from examples/customworker/main.go")
}
