package dag_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlanHash(t *testing.T) {
	t.Parallel()

	const yamlDoc = `
name: wf
key: k-1
input: {region: eu, zone: 2}
defaults: {timeout: 90s, priority: high}
nodes:
  - id: fetch
    kind: sleep
    args: {ms: 20, tags: [a, b], nested: {z: 1, a: "<&>"}}
  - id: g
    deps: [fetch]
    nodes: [{id: a, kind: noop}]
`
	// The same spec as JSON: other key order, whitespace, escapes and
	// duration spelling.
	const jsonDoc = `{"nodes": [
	  {"args": {"nested": {"a": "\u003c&>", "z": 1}, "tags": ["a", "b"], "ms": 20}, "kind": "sleep", "id": "fetch"},
	  {"nodes": [{"kind": "noop", "id": "a"}], "deps": ["fetch"], "id": "g"}
	],
	"defaults": {"priority": "high", "timeout": "1m30s"},
	"input": {"zone": 2, "region": "eu"},
	"key": "k-1", "name": "wf"}`

	hash := func(t *testing.T, doc string) string {
		t.Helper()
		plan, err := parseAndCompile(doc, nil)
		require.NoError(t, err)
		return plan.Hash
	}

	t.Run("SameSpecYAMLAndJSON", func(t *testing.T) {
		t.Parallel()

		require.Equal(t, hash(t, yamlDoc), hash(t, jsonDoc))
	})

	tests := []struct {
		name string
		doc  string
	}{
		{"ChangedArg", replace(yamlDoc, "ms: 20", "ms: 21")},
		{"ChangedNestedArg", replace(yamlDoc, "z: 1", "z: 2")},
		{"ChangedInput", replace(yamlDoc, "region: eu", "region: us")},
		{"ChangedKey", replace(yamlDoc, "k-1", "k-2")},
		{"ChangedDefaults", replace(yamlDoc, "priority: high", "priority: bulk")},
		{"ChangedDeps", replace(yamlDoc, "deps: [fetch]", "deps: []")},
		{"ChangedGroupMember", replace(yamlDoc, "{id: a, kind: noop}", "{id: a, kind: echo}")},
		{"MovedNode", replace(yamlDoc, "nodes: [{id: a, kind: noop}]", "nodes: [{id: a, kind: noop}, {id: b, kind: noop}]")},
		{"ArgTypeChanged", replace(yamlDoc, "ms: 20", "ms: '20'")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.NotEqual(t, hash(t, yamlDoc), hash(t, tt.doc))
		})
	}
}

// replace replaces old, which must be in s, with new.
func replace(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("not found: " + old)
}
