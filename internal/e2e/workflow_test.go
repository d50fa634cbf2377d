package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The key sets of `enqueue status -o json` (docs/SPEC.md, "status -o json"),
// including the extensions of the original design's shape (started_at on the
// workflow; parent on nodes inside a group; key when the workflow has one).
var (
	workflowKeys = []string{"created_at", "finished_at", "id", "input", "name", "nodes", "output", "started_at", "status"}
	nodeKeys     = []string{"attempts", "deps", "error", "finished_at", "id", "job_id", "kind", "output", "started_at", "state"}
)

var fraction = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// rfc3339 checks that v is an RFC 3339 time with sub-second precision and
// returns it.
func rfc3339(t *testing.T, what string, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "%s is a string, got %#v", what, v)
	ts, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err, "%s parses as RFC 3339", what)
	require.Regexp(t, fraction, s, "%s has sub-second precision (always six digits, also on a whole second)", what)
	return ts
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func with(keys []string, more ...string) []string {
	out := append(append([]string{}, keys...), more...)
	sort.Strings(out)
	return out
}

// nodesByID indexes the nodes of a decoded status.
func nodesByID(t *testing.T, st map[string]any) map[string]map[string]any {
	t.Helper()
	list, ok := st["nodes"].([]any)
	require.True(t, ok, "nodes is an array")
	out := map[string]map[string]any{}
	for _, v := range list {
		n, ok := v.(map[string]any)
		require.True(t, ok, "a node is an object")
		out[n["id"].(string)] = n
	}
	return out
}

// TestQuickstartStatusShape runs the quick start's workflow on two workers
// and checks `status -o json` against the contract's shape, key by key.
func TestQuickstartStatusShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startWorker(t)
	e.startWorker(t)

	r := e.enqueue("submit", "--wait", "examples/quickstart.yaml")
	require.Equal(t, exitOK, r.code, "%s", r)
	id := strings.TrimSpace(r.stdout)
	require.Regexp(t, `^[0-9a-f-]{36}$`, id, "stdout is the id alone, also with --wait")
	require.Contains(t, r.stderr, "submitted workflow quickstart (30 nodes) from examples/quickstart.yaml")
	require.Regexp(t, `(?m)^completed: 30/30 nodes final, 0 failed, [0-9.]+m?s$`, r.stderr, "plain progress lines without a terminal")
	require.Contains(t, r.stderr, "workflow "+id+" (quickstart) completed: 30 nodes in ")

	st := e.statusJSON(id)
	require.Equal(t, workflowKeys, keysOf(st), "workflow object keys")
	require.Equal(t, id, st["id"])
	require.Equal(t, "quickstart", st["name"])
	require.Equal(t, "completed", st["status"])
	require.Equal(t, map[string]any{"date": "2026-11-26"}, st["input"])
	created := rfc3339(t, "created_at", st["created_at"])
	started := rfc3339(t, "started_at", st["started_at"])
	finished := rfc3339(t, "finished_at", st["finished_at"])
	require.False(t, started.Before(created))
	require.False(t, finished.Before(started))
	out, ok := st["output"].(map[string]any)
	require.True(t, ok, "output is an object")
	require.Contains(t, out, "publish", "the workflow's output is keyed by its sinks")

	nodes := nodesByID(t, st)
	require.Len(t, nodes, 30)
	groups := map[string]bool{"regions": true, "regions/eu": true, "regions/us": true, "regions/apac": true, "shards": true}
	jobIDs := map[float64]string{}
	for path, n := range nodes {
		want := nodeKeys
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			want = with(nodeKeys, "parent")
			require.Equal(t, path[:i], n["parent"], "%s: parent", path)
		}
		require.Equal(t, want, keysOf(n), "%s: node object keys", path)
		require.Equal(t, "completed", n["state"], path)
		require.Nil(t, n["error"], path)
		require.IsType(t, []any{}, n["deps"], "%s: deps is an array, [] when empty", path)
		rfc3339(t, path+": finished_at", n["finished_at"])
		if groups[path] {
			require.Nil(t, n["kind"], "%s: a group's kind is null", path)
			require.Nil(t, n["job_id"], "%s: a group has no job", path)
			continue
		}
		require.IsType(t, "", n["kind"], path)
		jobID, ok := n["job_id"].(float64)
		require.True(t, ok, "%s: job_id is a number, got %#v", path, n["job_id"])
		require.Equal(t, float64(int64(jobID)), jobID, "%s: job_id is an integer", path)
		require.Positive(t, jobID)
		require.NotContains(t, jobIDs, jobID, "%s: job ids are distinct (also %s)", path, jobIDs[jobID])
		jobIDs[jobID] = path
		require.GreaterOrEqual(t, n["attempts"], float64(1), path)
		nStarted := rfc3339(t, path+": started_at", n["started_at"])
		require.False(t, nStarted.Before(created), path)
	}
	require.Equal(t, []any{"extract"}, nodes["regions"]["deps"])
	require.Equal(t, []any{"eu", "us", "apac"}, nodes["regions/summary"]["deps"], "deps are sibling ids")
	require.Equal(t, float64(2), nodes["regions/apac/fetch"]["attempts"], "fail times: 1 costs one attempt")
	require.Equal(t, float64(1), nodes["regions/eu/fetch"]["attempts"])

	// An echo node's output: its args, the workflow input, its deps' outputs.
	merge, ok := nodes["merge"]["output"].(map[string]any)
	require.True(t, ok, "merge's output is an object")
	require.Equal(t, map[string]any{"step": "merge"}, merge["args"])
	require.Equal(t, map[string]any{"date": "2026-11-26"}, merge["input"])
	require.Contains(t, merge["deps"], "regions", "a group's output reaches its dependents")
}

// TestExamples runs every spec in examples/ with --wait on two workers: the
// ones meant to complete exit 0, policies.yaml ends failed (exit 4) with
// each policy's outcome.
func TestExamples(t *testing.T) {
	t.Parallel()
	want := map[string]int{
		"hello.yaml":      exitOK,
		"quickstart.yaml": exitOK,
		"diamond.yaml":    exitOK,
		"wide.json":       exitOK,
		"throttled.yaml":  exitOK,
		"policies.yaml":   exitWorkflowFailed,
	}
	entries, err := os.ReadDir(filepath.Join(moduleRoot, "examples"))
	require.NoError(t, err)
	for _, en := range entries {
		if ext := filepath.Ext(en.Name()); !en.IsDir() && (ext == ".yaml" || ext == ".json") {
			require.Contains(t, want, en.Name(), "examples/%s: say here whether it should complete", en.Name())
		}
	}

	e := newEnv(t)
	e.startWorker(t)
	e.startWorker(t)
	var mu sync.Mutex
	finals := map[string]map[string]any{}
	t.Run("group", func(t *testing.T) {
		for name, code := range want {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := e.enqueue("submit", "--wait", "-o", "json", "examples/"+name)
				require.Equal(t, code, r.code, "%s", r)
				var st map[string]any
				require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), "--wait -o json prints the final status:\n%s", r)
				require.Equal(t, workflowKeys, keysOf(st))
				status := map[int]string{exitOK: "completed", exitWorkflowFailed: "failed"}[code]
				require.Equal(t, status, st["status"])
				if code == exitWorkflowFailed {
					require.Contains(t, r.stderr, "enqueue: workflow "+st["id"].(string)+" failed")
				}
				mu.Lock()
				finals[name] = st
				mu.Unlock()
			})
		}
	})
	if t.Failed() {
		return
	}

	policies := nodesByID(t, finals["policies.yaml"])
	for node, state := range map[string]string{
		"broken": "failed", "cancelled": "cancelled", "cancelled-too": "cancelled", "skipped": "skipped",
		"runs-after-skip": "completed", "runs-anyway": "completed", "independent": "completed",
	} {
		require.Equal(t, state, policies[node]["state"], "policies.yaml: %s", node)
	}
	require.Equal(t, float64(2), policies["broken"]["attempts"])
	require.Contains(t, policies["broken"]["error"], "planned failure")

	diamond := nodesByID(t, finals["diamond.yaml"])
	join := diamond["join"]["output"].(map[string]any)
	require.Contains(t, join["deps"], "left", "join sees left's output")

	wide := nodesByID(t, finals["wide.json"])
	require.Len(t, wide, 202)
	require.Len(t, wide["join"]["deps"], 200)
}
