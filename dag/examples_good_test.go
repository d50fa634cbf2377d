package dag_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
)

// TestGoodExamples compiles every spec in examples/ (the end-to-end tests
// run them).
func TestGoodExamples(t *testing.T) {
	t.Parallel()
	for _, pattern := range []string{"*.yaml", "*.json"} {
		files, err := filepath.Glob(filepath.Join("..", "examples", pattern))
		require.NoError(t, err)
		for _, file := range files {
			f, err := os.Open(file)
			require.NoError(t, err)
			spec, err := dag.Parse(f)
			f.Close()
			require.NoError(t, err, file)
			_, err = dag.Compile(spec, &dag.CompileOpts{KnownKind: builtinKinds})
			require.NoError(t, err, file)
		}
	}
}
