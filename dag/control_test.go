package dag_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
)

const controlSpec = `
name: ingest-batch
deadline: 1h
input: {codebase: qf, shard: 7}
defaults:
  retry: {backoff: exponential, base: 1s, max: 5m, jitter: true}
  rate: {key: "embedding-api", limit: 50, per: 1s}
nodes:
  - id: embed
    kind: noop
    args: {lang: go}
    concurrency: {key: "embed:{{input.codebase}}:{{args.lang}}", limit: 4}
    delay: 30s
    not_before: 2026-12-02T00:00:00Z
  - id: g
    concurrency: {key: "g-{{ input.shard }}", limit: 2}
    retry: {backoff: constant, base: 2s}
    nodes:
      - {id: a, kind: noop}
      - {id: b, kind: noop, concurrency: {key: own, limit: 1}, rate: {key: r2, limit: 1, per: 10ms}}
`

func TestCompileFlowControl(t *testing.T) {
	t.Parallel()

	for _, doc := range []string{controlSpec, yamlToJSON(t, controlSpec)} {
		plan, err := parseAndCompile(doc, nil)
		require.NoError(t, err)
		require.Equal(t, time.Hour, plan.Deadline)
		byPath := map[string]dag.PlanNode{}
		for _, n := range plan.Nodes {
			byPath[n.Path] = n
		}
		embed := byPath["embed"]
		require.Equal(t, &dag.ConcurrencyLimit{Key: "embed:qf:go", Limit: 4}, embed.Concurrency)
		require.Equal(t, &dag.RateLimit{Key: "embedding-api", Limit: 50, Per: time.Second}, embed.Rate)
		require.Equal(t, &dag.Retry{Backoff: "exponential", Base: dag.Duration(time.Second), Max: dag.Duration(5 * time.Minute), Jitter: true}, embed.Retry)
		require.Equal(t, 30*time.Second, embed.Delay)
		require.Equal(t, time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), embed.NotBefore)

		a := byPath["g/a"]
		require.Equal(t, &dag.ConcurrencyLimit{Key: "g-7", Limit: 2}, a.Concurrency, "a group's setting applies to its leaves")
		require.Equal(t, "constant", a.Retry.Backoff)
		require.Equal(t, "embedding-api", a.Rate.Key, "defaults apply below groups")
		require.Zero(t, a.Delay)
		require.True(t, a.NotBefore.IsZero())

		b := byPath["g/b"]
		require.Equal(t, &dag.ConcurrencyLimit{Key: "own", Limit: 1}, b.Concurrency, "a leaf's own setting wins")
		require.Equal(t, &dag.RateLimit{Key: "r2", Limit: 1, Per: 10 * time.Millisecond}, b.Rate)
		require.Nil(t, byPath["g"].Concurrency, "groups carry no resolved setting")
	}
}

// yamlToJSON rewrites controlSpec in JSON by hand (the parsers are
// separate code paths).
func yamlToJSON(t *testing.T, _ string) string {
	t.Helper()
	return `{"name": "ingest-batch", "deadline": "1h", "input": {"codebase": "qf", "shard": 7},
 "defaults": {"retry": {"backoff": "exponential", "base": "1s", "max": "5m", "jitter": true},
              "rate": {"key": "embedding-api", "limit": 50, "per": "1s"}},
 "nodes": [
  {"id": "embed", "kind": "noop", "args": {"lang": "go"},
   "concurrency": {"key": "embed:{{input.codebase}}:{{args.lang}}", "limit": 4},
   "delay": "30s", "not_before": "2026-12-02T00:00:00Z"},
  {"id": "g", "concurrency": {"key": "g-{{ input.shard }}", "limit": 2},
   "retry": {"backoff": "constant", "base": "2s"},
   "nodes": [{"id": "a", "kind": "noop"},
             {"id": "b", "kind": "noop", "concurrency": {"key": "own", "limit": 1}, "rate": {"key": "r2", "limit": 1, "per": "10ms"}}]}]}`
}

func TestFlowControlHashStable(t *testing.T) {
	t.Parallel()
	// Specs without flow control keep their hash: the canonical form only
	// grows when a field is set.
	plain, err := parseAndCompile("name: x\nnodes: [{id: a, kind: noop}]", nil)
	require.NoError(t, err)
	limited, err := parseAndCompile("name: x\nnodes: [{id: a, kind: noop, concurrency: {key: k, limit: 1}}]", nil)
	require.NoError(t, err)
	limited2, err := parseAndCompile("name: x\nnodes: [{id: a, kind: noop, concurrency: {key: k, limit: 2}}]", nil)
	require.NoError(t, err)
	require.NotEqual(t, plain.Hash, limited.Hash)
	require.NotEqual(t, limited.Hash, limited2.Hash)
	yamlPlan, err := parseAndCompile(controlSpec, nil)
	require.NoError(t, err)
	jsonPlan, err := parseAndCompile(yamlToJSON(t, ""), nil)
	require.NoError(t, err)
	require.Equal(t, yamlPlan.Hash, jsonPlan.Hash)
}

func TestFlowControlErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, doc string
		sentinel  error
		want      string
	}{
		{"limit zero", `{id: a, kind: noop, concurrency: {key: k, limit: 0}}`, dag.ErrInvalidLimit, `node "a": concurrency.limit: must be at least 1 (got 0)`},
		{"limit missing", `{id: a, kind: noop, concurrency: {key: k}}`, dag.ErrInvalidLimit, `concurrency.limit: must be at least 1`},
		{"rate limit negative", `{id: a, kind: noop, rate: {key: k, limit: -1, per: 1s}}`, dag.ErrInvalidLimit, `node "a": rate.limit: must be at least 1 (got -1)`},
		{"rate per missing", `{id: a, kind: noop, rate: {key: k, limit: 1}}`, dag.ErrInvalidDuration, `node "a": rate.per: is required`},
		{"rate per number", `{id: a, kind: noop, rate: {key: k, limit: 1, per: 1}}`, dag.ErrInvalidDuration, `rate: want a string such as "30s"`},
		{"unknown template variable", `{id: a, kind: noop, concurrency: {key: "x:{{workflow.id}}", limit: 1}}`, dag.ErrInvalidKeyTemplate, `node "a": concurrency.key: unknown template variable "workflow.id"`},
		{"unmatched braces", `{id: a, kind: noop, concurrency: {key: "x:{{input.a", limit: 1}}`, dag.ErrInvalidKeyTemplate, `unmatched`},
		{"missing input field", `{id: a, kind: noop, rate: {key: "{{input.codebase}}", limit: 1, per: 1s}}`, dag.ErrInvalidKeyTemplate, `node "a": rate.key: {{input.codebase}}: input has no field "codebase"`},
		{"missing args field", `{id: a, kind: noop, args: {x: {y: 1}}, concurrency: {key: "{{args.x}}", limit: 1}}`, dag.ErrInvalidKeyTemplate, `args has field "x" is not a string`},
		{"empty key", `{id: a, kind: noop, concurrency: {key: "", limit: 1}}`, dag.ErrInvalidKeyTemplate, `concurrency.key: is required`},
		{"unknown field", `{id: a, kind: noop, concurrency: {key: k, limt: 1}}`, dag.ErrUnknownField, `unknown field "limt"`},
		{"limit wrong type", `{id: a, kind: noop, concurrency: {key: k, limit: many}}`, dag.ErrInvalidSpec, `limit must be a whole number`},
		{"not a mapping", `{id: a, kind: noop, concurrency: 4}`, dag.ErrNotObject, `concurrency: must be a mapping`},
		{"delay negative", `{id: a, kind: noop, delay: -5s}`, dag.ErrInvalidDuration, `node "a": delay: "-5s" must be positive`},
		{"delay number", `{id: a, kind: noop, delay: 5}`, dag.ErrInvalidDuration, `delay:`},
		{"not_before bad", `{id: a, kind: noop, not_before: tomorrow}`, dag.ErrInvalidTime, `node "a": not_before: "tomorrow" is not an RFC 3339 time`},
		{"delay on a group", `{id: g, delay: 1s, nodes: [{id: a, kind: noop}]}`, dag.ErrGroupField, `node "g": delay: applies to leaves only`},
		{"backoff unknown", `{id: a, kind: noop, retry: {backoff: linear, base: 1s}}`, dag.ErrInvalidBackoff, `node "a": retry.backoff: unknown backoff "linear"`},
		{"retry base missing", `{id: a, kind: noop, retry: {backoff: constant}}`, dag.ErrInvalidDuration, `retry.base: is required`},
		{"retry max below base", `{id: a, kind: noop, retry: {backoff: constant, base: 1m, max: 1s}}`, dag.ErrInvalidDuration, `retry.max: 1s is less than base 1m0s`},
		{"retry base negative", `{id: a, kind: noop, retry: {backoff: constant, base: -1s}}`, dag.ErrInvalidDuration, `must be positive`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseAndCompile("name: x\nnodes:\n  - "+tt.doc+"\n", nil)
			require.Error(t, err)
			require.True(t, errors.Is(err, tt.sentinel), "%v is not %v", err, tt.sentinel)
			require.Contains(t, err.Error(), tt.want)
		})
	}

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		_, err := parseAndCompile("name: x\ndefaults: {concurrency: {key: k, limit: 0}}\nnodes: [{id: a, kind: noop}]", nil)
		require.ErrorIs(t, err, dag.ErrInvalidLimit)
		require.Contains(t, err.Error(), "defaults.concurrency.limit: must be at least 1")
		require.Equal(t, 1, strings.Count(err.Error(), "limit"), "an inherited bad setting is reported once, where it is written: %v", err)
	})
	t.Run("deadline negative", func(t *testing.T) {
		t.Parallel()
		_, err := parseAndCompile("name: x\ndeadline: -1h\nnodes: [{id: a, kind: noop}]", nil)
		require.ErrorIs(t, err, dag.ErrInvalidDuration)
		require.Contains(t, err.Error(), `deadline: "-1h" must be positive`)
	})
	t.Run("expansion reads the input", func(t *testing.T) {
		t.Parallel()
		nodes := []dag.Node{{ID: "x", Kind: "noop", Control: dag.Control{Concurrency: &dag.Concurrency{Key: "{{input.c}}", Limit: 1}}}}
		plan, err := dag.CompileNodes(nodes, dag.Defaults{}, &dag.CompileOpts{BasePath: "p", Input: []byte(`{"c": "v"}`)})
		require.NoError(t, err)
		require.Equal(t, "v", plan[0].Concurrency.Key)
	})
}
