package dag_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
)

// TestBadExamples checks, without a database, that every spec in
// examples/bad is rejected with the error its README row names (the
// end-to-end tests check the same through enqueue).
func TestBadExamples(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "examples", "bad")
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	rows := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `(.+)` \\|$").FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, rows)
	for _, row := range rows {
		t.Run(row[1], func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(filepath.Join(dir, row[1]))
			require.NoError(t, err)
			defer f.Close()
			spec, err := dag.Parse(f)
			if err == nil {
				_, err = dag.Compile(spec, &dag.CompileOpts{KnownKind: builtinKinds})
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), row[2])
		})
	}
}
