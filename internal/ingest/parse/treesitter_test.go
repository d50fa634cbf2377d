//go:build cgo

package parse

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTSX(t *testing.T) {
	t.Parallel()

	src := []byte(`import React from "react";

/** A button. */
export function Button({ label }: { label: string }) {
  return <button onClick={() => React.act()}>{label}</button>;
}
`)
	o, err := Parse("tsx", src)
	require.NoError(t, err)
	require.Zero(t, o.Errors)
	require.Equal(t, []Symbol{{
		Name: "Button", Qualified: "Button", Kind: "function", StartLine: 4, EndLine: 6,
		Signature: "function Button({ label }: { label: string })", Doc: "A button.",
	}}, Symbols(o, src))
	require.Equal(t, []Import{{Path: "react", Alias: "React", Line: 1}}, o.Imports)
	require.Equal(t, []Ref{{Qualifier: "React", Name: "act", Count: 1}}, o.Refs)

	// The TypeScript grammar does not take JSX: that is why "tsx" is its own id.
	o, err = Parse("typescript", src)
	require.NoError(t, err)
	require.Positive(t, o.Errors)
}

func TestSupported(t *testing.T) {
	t.Parallel()

	for _, l := range []string{"go", "python", "javascript", "typescript", "tsx", "rust", "elixir"} {
		require.True(t, Supported(l), l)
	}
	for _, l := range []string{"", "markdown", "c", "Go"} {
		require.False(t, Supported(l), l)
		_, err := Parse(l, []byte("x"))
		require.ErrorIs(t, err, ErrUnsupported)
	}
}
