package dag_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
)

func TestParseYAMLAndJSONAgree(t *testing.T) {
	t.Parallel()

	fromYAML, err := dag.ParseBytes([]byte(specExample))
	require.NoError(t, err)
	js, err := json.Marshal(fromYAML)
	require.NoError(t, err)
	fromJSON, err := dag.ParseBytes(js)
	require.NoError(t, err)
	require.Equal(t, fromYAML, fromJSON)
	require.Equal(t, dag.Duration(30*time.Second), fromJSON.Defaults.Timeout)
	require.Equal(t, 3, fromJSON.Defaults.MaxAttempts)
	require.Equal(t, `{"ms":20}`, string(fromJSON.Nodes[0].Args))
}

func TestParseValid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, spec *dag.Spec)
	}{
		{
			name: "FlowYAMLStartingWithBrace",
			doc:  "{name: wf, nodes: [{id: a, kind: noop}]}",
			check: func(t *testing.T, spec *dag.Spec) {
				t.Helper()
				require.Equal(t, "a", spec.Nodes[0].ID)
			},
		},
		{
			name: "ByteOrderMark",
			doc:  "\xef\xbb\xbf{\"name\": \"wf\", \"nodes\": [{\"id\": \"a\", \"kind\": \"noop\"}]}",
			check: func(t *testing.T, spec *dag.Spec) {
				t.Helper()
				require.Equal(t, "wf", spec.Name)
			},
		},
		{
			name: "AnchorsAndMergeKeys",
			doc: `
name: wf
nodes:
  - id: a
    kind: noop
    args: &base {region: eu, size: 1}
  - id: b
    kind: noop
    args: {<<: *base, size: 2}
  - id: c
    kind: noop
    args: *base
`,
			check: func(t *testing.T, spec *dag.Spec) {
				t.Helper()
				require.Equal(t, `{"region":"eu","size":2}`, string(spec.Nodes[1].Args))
				require.Equal(t, `{"region":"eu","size":1}`, string(spec.Nodes[2].Args))
			},
		},
		{
			name: "NodeTemplateWithMergeKey",
			doc: `
name: wf
nodes:
  - &tmpl {id: a, kind: sleep, queue: slow, args: {ms: 5}}
  - {<<: *tmpl, id: b, deps: [a]}
`,
			check: func(t *testing.T, spec *dag.Spec) {
				t.Helper()
				b := spec.Nodes[1]
				require.Equal(t, "b", b.ID)
				require.Equal(t, "sleep", b.Kind)
				require.Equal(t, "slow", b.Queue)
				require.Equal(t, []string{"a"}, b.Deps)
				require.Equal(t, `{"ms":5}`, string(b.Args))
			},
		},
		{
			name: "YAMLScalarsBecomeJSON",
			doc: `
name: wf
input: {big: 123456789012345678901234567890, hex: 0x1F, under: 1_000, f: 1.5e3, t: true, n: ~, s: "quote\"d", d: 2026-11-26, list: [1, two]}
nodes: [{id: a, kind: noop}]
`,
			check: func(t *testing.T, spec *dag.Spec) {
				t.Helper()
				require.Equal(t, `{"big":123456789012345678901234567890,"hex":31,"under":1000,"f":1.5e3,"t":true,"n":null,"s":"quote\"d","d":"2026-11-26","list":[1,"two"]}`, string(spec.Input))
			},
		},
		{
			name: "ScalarsAsStrings",
			doc:  "name: 2026\nkey: 2026-11-26\nnodes: [{id: 1, kind: noop, deps: []}]\n",
			check: func(t *testing.T, spec *dag.Spec) {
				t.Helper()
				require.Equal(t, "2026", spec.Name)
				require.Equal(t, "2026-11-26", spec.Key)
				require.Equal(t, "1", spec.Nodes[0].ID)
			},
		},
		{
			name: "NullsAreAbsent",
			doc:  `{"name": "wf", "key": null, "input": null, "defaults": null, "nodes": [{"id": "a", "kind": "noop", "args": null, "timeout": null, "max_attempts": null}]}`,
			check: func(t *testing.T, spec *dag.Spec) {
				t.Helper()
				require.Nil(t, spec.Input)
				require.Nil(t, spec.Nodes[0].Args)
				require.Zero(t, spec.Nodes[0].MaxAttempts)
			},
		},
		{
			name: "JSONKeepsArgsOrderCompact",
			doc:  "{\"name\": \"wf\", \"nodes\": [{\"id\": \"a\", \"kind\": \"noop\", \"args\": {\"z\": [1, 2],\n \"a\": \"\\u00e9\"}}]}",
			check: func(t *testing.T, spec *dag.Spec) {
				t.Helper()
				require.Equal(t, `{"z":[1,2],"a":"\u00e9"}`, string(spec.Nodes[0].Args))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			spec, err := dag.ParseBytes([]byte(tt.doc))
			require.NoError(t, err)
			tt.check(t, spec)
			_, err = dag.Compile(spec, nil)
			require.NoError(t, err)
		})
	}
}

func TestParseReader(t *testing.T) {
	t.Parallel()

	spec, err := dag.Parse(strings.NewReader(specExample))
	require.NoError(t, err)
	require.Len(t, spec.Nodes, 3)
}

func TestDuration(t *testing.T) {
	t.Parallel()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()

		b, err := json.Marshal(dag.Duration(90 * time.Second))
		require.NoError(t, err)
		require.Equal(t, `"1m30s"`, string(b))
		var d dag.Duration
		require.NoError(t, json.Unmarshal(b, &d))
		require.Equal(t, dag.Duration(90*time.Second), d)
		text, err := d.MarshalText()
		require.NoError(t, err)
		require.Equal(t, "1m30s", string(text))
		require.NoError(t, json.Unmarshal([]byte("null"), &d))
		require.Equal(t, dag.Duration(90*time.Second), d, "null leaves the value alone")
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()

		for _, in := range []string{`"0s"`, `"-1s"`, `"30"`, `30`, `"soon"`} {
			var d dag.Duration
			require.ErrorIs(t, json.Unmarshal([]byte(in), &d), dag.ErrInvalidDuration, in)
		}
	})

	t.Run("OmittedWhenZero", func(t *testing.T) {
		t.Parallel()

		b, err := json.Marshal(dag.Node{ID: "a", Kind: "noop"})
		require.NoError(t, err)
		require.Equal(t, `{"id":"a","kind":"noop"}`, string(b))
		b, err = json.Marshal(dag.Spec{Name: "wf"})
		require.NoError(t, err)
		require.Equal(t, `{"name":"wf","nodes":null}`, string(b))
	})
}
