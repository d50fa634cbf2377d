package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/ingest/parse"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// TestResolveEdges: the per-file resolution and the run's re-resolution
// write the known edges of a small codebase, and the run's re-resolution
// writes the same ones whichever way it looks symbols up (symbolsProbed
// for small runs, symbolsJoined for large ones, which no test tree is
// large enough to reach through ResolveRunEdgesTx).
func TestResolveEdges(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	const run = "r1"
	var cb int64
	ids := map[string]int64{}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var err error
		if cb, err = UpsertCodebaseTx(ctx, tx, "g", "/g"); err != nil {
			return err
		}
		sym := func(name, qualified string) parse.Symbol {
			return parse.Symbol{Name: name, Qualified: qualified, Kind: "function", StartLine: 1, EndLine: 2}
		}
		files := []*File{
			{Path: "util/a.go", Symbols: []parse.Symbol{sym("Hello", "Hello"), sym("Greet", "Greeter.Greet")}},
			{Path: "util/b.go", Symbols: []parse.Symbol{sym("Bye", "Bye")}},
			{Path: "util/c.go", Symbols: []parse.Symbol{sym("Other", "Other")}},
			{Path: "lib/x.py", Symbols: []parse.Symbol{sym("make", "make")}},
			// main.go calls util.Hello twice and util.Greet (a method: no
			// edge of its own), and imports lib/x.py without naming it.
			{Path: "main.go",
				Imports: []Import{
					{Path: "example.com/util", LocalName: "util", Line: 3, Candidates: []string{"util/"}},
					{Path: "lib/x.py", LocalName: "x", Line: 4, Candidates: []string{"lib/x.py"}},
				},
				Refs: []parse.Ref{{Qualifier: "util", Name: "Hello", Count: 2}, {Qualifier: "util", Name: "Greet", Count: 1}}},
			// side.go imports util for its side effects only: an edge to
			// each of its three files, a third each.
			{Path: "side.go", Imports: []Import{{Path: "example.com/util", LocalName: "", Line: 3, Candidates: []string{"util/"}}}},
		}
		for _, f := range files {
			f.CodebaseID, f.RunID, f.Hash, f.Language, f.Change = cb, run, []byte(f.Path), "go", ChangeAdded
			id, err := StoreFileTx(ctx, tx, f)
			if err != nil {
				return err
			}
			ids[f.Path] = id
		}
		return nil
	})
	require.NoError(t, err)
	want := []string{
		"main.go → lib/x.py import 1.000",
		"main.go → util/a.go import 1.000",
		"main.go → util/a.go reference 2.000",
		"side.go → util/a.go import 0.333",
		"side.go → util/b.go import 0.333",
		"side.go → util/c.go import 0.333",
	}
	edges := func(tx pgx.Tx) []string {
		rows, err := tx.Query(ctx, `
SELECT a.path, b.path, e.kind, e.weight FROM qf_code_edge e
JOIN qf_code_file a ON a.id = e.from_file JOIN qf_code_file b ON b.id = e.to_file`)
		require.NoError(t, err)
		var out []string
		for rows.Next() {
			var from, to, kind string
			var w float64
			require.NoError(t, rows.Scan(&from, &to, &kind, &w))
			out = append(out, fmt.Sprintf("%s → %s %s %.3f", from, to, kind, w))
		}
		require.NoError(t, rows.Err())
		sort.Strings(out)
		return out
	}
	inTx := func(f func(tx pgx.Tx)) {
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { require.NoError(t, tx.Rollback(context.WithoutCancel(ctx))) }()
		f(tx)
	}

	perFile := func(tx pgx.Tx, runID string) (deferred []int) {
		for _, p := range []string{"main.go", "side.go"} {
			fe, err := ResolveFileEdgesTx(ctx, tx, cb, ids[p], runID)
			require.NoError(t, err)
			deferred = append(deferred, fe.Deferred)
		}
		return deferred
	}
	inTx(func(tx pgx.Tx) {
		// A later run that stores the importers alone: every target is
		// outside it.
		require.Equal(t, []int{0, 0}, perFile(tx, "r2"), "candidates deferred")
		require.Equal(t, want, edges(tx), "per-file resolution, targets outside the run")
	})
	inTx(func(tx pgx.Tx) {
		// The run that stored every file: the per-file pass leaves every
		// edge to the run's re-resolution, which writes them all.
		require.Equal(t, []int{2, 1}, perFile(tx, run), "candidates deferred")
		require.Empty(t, edges(tx), "per-file resolution, targets in the run")
		_, _, err := ResolveRunEdgesTx(ctx, tx, cb, run)
		require.NoError(t, err)
		require.Equal(t, want, edges(tx), "per-file resolution, then the run's")
	})
	inTx(func(tx pgx.Tx) {
		// util/c.go in the run, util/a.go and util/b.go outside it: side.go's
		// import still weighs a third per file of util, over all three.
		_, err := tx.Exec(ctx, `UPDATE qf_code_file SET run_id = 'r2' WHERE id = $1`, ids["util/c.go"])
		require.NoError(t, err)
		perFile(tx, "r2")
		var outside []string
		for _, e := range want {
			if !strings.Contains(e, "util/c.go") {
				outside = append(outside, e)
			}
		}
		require.Equal(t, outside, edges(tx), "per-file resolution, a package on both sides of the run")
	})
	for name, symbols := range map[string]string{"probed": symbolsProbed, "joined": symbolsJoined} {
		inTx(func(tx pgx.Tx) {
			imports, refs, err := resolveRunTx(ctx, tx, cb, run, symbols)
			require.NoError(t, err)
			require.Equal(t, want, edges(tx), "run re-resolution, symbols %s", name)
			require.Equal(t, []int{5, 1}, []int{imports, refs}, "symbols %s", name)
		})
	}
	inTx(func(tx pgx.Tx) {
		_, _, err := ResolveRunEdgesTx(ctx, tx, cb, run)
		require.NoError(t, err)
		require.Equal(t, want, edges(tx), "ResolveRunEdgesTx")
	})
}
