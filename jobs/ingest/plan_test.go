package ingest

import (
	"crypto/sha256"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/ingest/parse"
	"github.com/quantumflow/quantumflow/internal/ingest/scan"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
)

func h(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func known(content string) store.KnownFile {
	sum := h(content)
	return store.KnownFile{Hash: sum[:]}
}

func TestClassify(t *testing.T) {
	res := &scan.Result{
		Files: []scan.File{
			{Path: "a.go", Hash: h("a")},         // unchanged
			{Path: "b.go", Hash: h("b2")},        // changed
			{Path: "c.go", Hash: h("c")},         // new
			{Path: "moved/d.go", Hash: h("d")},   // renamed from d.go
			{Path: "bin.dat", Hash: h("bin")},    // unchanged, skipped by content before
			{Path: "was-big.txt", Hash: h("w")},  // a scan skip before, readable now: new
			{Path: "twin2.txt", Hash: h("twin")}, // a rename of one of two gone twins
		},
		Skipped: []scan.Skip{{Path: "huge.txt", Reason: scan.ReasonTooLarge}},
	}
	bin := known("bin")
	bin.SkipReason = "binary"
	kn := map[string]store.KnownFile{
		"a.go":        known("a"),
		"b.go":        known("b1"),
		"d.go":        known("d"),
		"e.go":        known("e"), // removed
		"bin.dat":     bin,
		"was-big.txt": {SkipReason: scan.ReasonTooLarge},
		"old-skip":    {SkipReason: scan.ReasonSensitive}, // gone, never had content
		"twin1.txt":   known("twin"),
		"twin3.txt":   known("twin"),
	}
	p := classify(res, kn)
	require.Equal(t, ingest.FileCounts{New: 2, Changed: 3, Removed: 2, Unchanged: 2, Skipped: 1}, p.Counts)
	require.Equal(t, []fileChange{
		{Path: "b.go", Hash: h("b2"), Change: store.ChangeModified},
		{Path: "c.go", Hash: h("c"), Change: store.ChangeAdded},
		{Path: "moved/d.go", Hash: h("d"), Change: store.ChangeRenamed, From: "d.go"},
		{Path: "twin2.txt", Hash: h("twin"), Change: store.ChangeRenamed, From: "twin1.txt"},
		{Path: "was-big.txt", Hash: h("w"), Change: store.ChangeAdded},
	}, p.Files)
	require.Equal(t, []string{"e.go", "twin3.txt"}, p.Removed, "a rename's old path is not removed by a node")
	require.Equal(t, []string{"old-skip"}, p.GoneSkips)
	require.Equal(t, []store.ScanSkip{{Path: "huge.txt", Reason: scan.ReasonTooLarge}}, p.Skips)

	// The same tree again, stored: nothing to do.
	again := map[string]store.KnownFile{}
	for _, f := range res.Files {
		again[f.Path] = store.KnownFile{Hash: f.Hash[:]}
	}
	again["huge.txt"] = store.KnownFile{SkipReason: scan.ReasonTooLarge}
	p = classify(res, again)
	require.Empty(t, p.Files)
	require.Empty(t, p.Removed)
	require.Equal(t, ingest.FileCounts{Unchanged: len(res.Files), Skipped: 1}, p.Counts)
}

func TestNodeID(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	long := strings.Repeat("very/long/directory/", 10) + "file.go"
	for _, tc := range []struct{ prefix, path, want string }{
		{"", "net/http/server.go", "net_http_server_go-"},
		{"rm-", "a b.py", "rm-a_b_py-"},
		{"", long, "_very_long_directory_very_long_directory_file_go-"},
		{"", "ünïcode/ß.go", ""},
	} {
		id := nodeID(tc.prefix, tc.path)
		require.Regexp(t, valid, id, tc.path)
		require.True(t, strings.HasPrefix(id, tc.want), "%s: %s", tc.path, id)
	}
	require.NotEqual(t, nodeID("", "a/b.go"), nodeID("", "a_b.go"), "the hash tells apart paths that read the same")
}

func TestExpansion(t *testing.T) {
	nodes, err := expansion(&plan{
		Files:   []fileChange{{Path: "x/y.go", Hash: h("y"), Change: store.ChangeAdded}},
		Removed: []string{"gone.go"},
	})
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	g := nodes[0]
	require.Len(t, g.Nodes, 11)
	ids := map[string][]string{}
	for i, n := range g.Nodes {
		ids[n.ID] = n.Deps
		if i > 0 {
			require.Empty(t, n.Args, "only file_detection carries the file")
		}
	}
	require.JSONEq(t, `{"path":"x/y.go","hash":"`+hexOf(h("y"))+`","change":"added"}`, string(g.Nodes[0].Args))
	require.Equal(t, []string{"symbol_extraction", "import_extraction"}, ids["storage"])
	require.Equal(t, []string{"embedding_generation"}, ids["vector_indexing"])
	require.Equal(t, []string{"storage"}, ids["fulltext_indexing"])
	require.Equal(t, []string{"storage"}, ids["relationship_analysis"])
	require.Equal(t, KindFileRemoval, nodes[1].Kind)
	require.JSONEq(t, `{"path":"gone.go"}`, string(nodes[1].Args))
}

func hexOf(b [32]byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 64)
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

func TestLocalName(t *testing.T) {
	for _, tc := range []struct {
		lang, path, alias, want string
	}{
		{"go", "net/http", "", "http"},
		{"go", "math/rand/v2", "", "rand"},
		{"go", "gopkg.in/yaml.v3", "", "yaml"},
		{"go", "github.com/x/y", "z", "z"},
		{"go", "embed", "_", "embed"},
		{"python", "os.path", "", "path"},
		{"python", "numpy", "np", "np"},
		{"javascript", "./util/strings.js", "", "strings"},
		{"rust", "crate::a::b", "", "b"},
		{"elixir", "Foo.Bar", "", "Foo.Bar"},
	} {
		require.Equal(t, tc.want, localName(tc.lang, parse.Import{Path: tc.path, Alias: tc.alias}), "%s %s", tc.lang, tc.path)
	}
}

func TestCountLines(t *testing.T) {
	for in, want := range map[string]int{"": 0, "a": 1, "a\n": 1, "a\nb": 2, "a\n\n": 2} {
		require.Equal(t, want, countLines([]byte(in)), "%q", in)
	}
}

// BenchmarkClassifyUnchanged is the scan's comparison for an unchanged tree
// the size of Go's standard library (12 000 files).
func BenchmarkClassifyUnchanged(b *testing.B) {
	res := &scan.Result{}
	kn := map[string]store.KnownFile{}
	for i := range 12000 {
		p := strings.Repeat("d/", i%7) + "f" + string(rune('a'+i%26)) + strings.Repeat("x", i%13) + ".go" + string(rune('0'+i%10)) + hexOf(h(string(rune(i))))[:6]
		f := scan.File{Path: p, Hash: h(p)}
		res.Files = append(res.Files, f)
		kn[p] = store.KnownFile{Hash: f.Hash[:]}
	}
	b.ResetTimer()
	for range b.N {
		if p := classify(res, kn); len(p.Files) != 0 {
			b.Fatal("changed")
		}
	}
}
