package dag_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
)

// FuzzParse checks that Parse and Compile never panic, that every error is a
// *ValidationError, and that a spec that compiles survives json.Marshal and
// a second Parse with the same Hash and a well-formed plan.
func FuzzParse(f *testing.F) {
	f.Add([]byte(specExample))
	js, err := json.Marshal(mustParse(f, specExample))
	require.NoError(f, err)
	f.Add(js)
	for _, tt := range malformedCases {
		if len(tt.doc) < 4096 {
			f.Add([]byte(tt.doc))
		}
	}
	f.Add([]byte("name: wf\nnodes:\n  - {id: a, kind: noop, args: &x {k: [1, 2.5, true, null, 0x10]}}\n  - {id: b, kind: noop, deps: [a], args: {<<: *x, k: 0}}\n"))
	f.Add([]byte(`{"name":"wf","key":"k é","input":{"a":{"b":[1,{"c":"\ud83d\ude00"}]}},"nodes":[{"id":"g","nodes":[{"id":"a","kind":"noop"}]},{"id":"b","kind":"x:y","deps":["g"],"timeout":"1h"}]}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := dag.ParseBytes(data)
		if err != nil {
			var ve *dag.ValidationError
			require.True(t, errors.As(err, &ve), "Parse error is a *ValidationError: %v", err)
			return
		}
		plan, err := dag.Compile(spec, nil)
		if err != nil {
			var ve *dag.ValidationError
			require.True(t, errors.As(err, &ve), "Compile error is a *ValidationError: %v", err)
			return
		}
		checkPlan(t, plan.Nodes, 0, -1)

		again, err := json.Marshal(spec)
		require.NoError(t, err)
		spec2, err := dag.ParseBytes(again)
		require.NoError(t, err, "re-parse %s", again)
		plan2, err := dag.Compile(spec2, nil)
		require.NoError(t, err, "re-compile %s", again)
		require.Equal(t, plan.Hash, plan2.Hash, "hash after a round trip through %s", again)
		require.Len(t, plan2.Nodes, len(plan.Nodes))
	})
}

func mustParse(tb testing.TB, doc string) *dag.Spec {
	tb.Helper()
	spec, err := dag.ParseBytes([]byte(doc))
	require.NoError(tb, err)
	return spec
}
