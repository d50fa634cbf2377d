package ingest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/ingest/embed"
	ingestjobs "github.com/quantumflow/quantumflow/jobs/ingest"
)

// TestEmbedderRefusalFailsAtOnce: an embedding endpoint that refuses the
// request (401: a bad key) cannot be fixed by retrying, so the file's
// embedding_generation fails on its first attempt although the node has
// two, and the run ends failed naming the step; a 503 is retried.
func TestEmbedderRefusalFailsAtOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status   int
		attempts int
	}{
		{http.StatusUnauthorized, 1},
		{http.StatusServiceUnavailable, 2},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"error": {"message": "no"}}`, tc.status)
			}))
			t.Cleanup(srv.Close)
			emb, err := embed.NewOpenAI(embed.OpenAIConfig{URL: srv.URL, Model: "m"})
			require.NoError(t, err)
			e := newEnv(t, ingestjobs.Config{Embedder: emb, MaxAttempts: 2})
			root := writeTree(t, map[string]string{"a.go": "package a\n\nfunc A() {}\n"})
			run, state := e.ingest(ingest.Options{Path: root, Codebase: "perm"})
			require.Equal(t, flowtype.WorkflowFailed, state)
			rows := e.query(`SELECT attempts, error FROM qf_node WHERE workflow_id = $1 AND path LIKE '%/embedding_generation'`, run.ID)
			require.Len(t, rows, 1)
			require.EqualValues(t, tc.attempts, rows[0]["attempts"], "%v", rows[0]["error"])
			require.Contains(t, rows[0]["error"], "embedding_generation of a.go")
		})
	}
}
