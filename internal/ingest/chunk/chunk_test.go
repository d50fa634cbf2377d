package chunk

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// brief is a chunk without its content and hash, for table tests.
type brief struct {
	Start, End   int
	Symbol, Kind string
}

func briefs(cs []Chunk) []brief {
	var out []brief
	for _, c := range cs {
		out = append(out, brief{c.StartLine, c.EndLine, c.Symbol, c.Kind})
	}
	return out
}

func lines(n int, f func(i int) string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(f(i))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSplitPacks(t *testing.T) {
	t.Parallel()
	// 100 one-line constants between a header and a long function.
	var b strings.Builder
	b.WriteString("package p\n\nconst (\n")
	var spans []Span
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "\tC%d = %d\n", i, i)
		spans = append(spans, Span{Name: fmt.Sprintf("C%d", i), Kind: "const", StartLine: 4 + i, EndLine: 4 + i})
	}
	b.WriteString(")\n\n// F is long.\nfunc F() {\n")
	for i := 0; i < 50; i++ {
		b.WriteString("\tx++\n")
	}
	b.WriteString("}\n")
	spans = append(spans, Span{Name: "F", Kind: "function", StartLine: 107, EndLine: 158})
	got := Split([]byte(b.String()), spans)
	require.Equal(t, []brief{
		{1, 40, "C0", "const"}, // header and constants up to PackLines lines
		{41, 80, "C37", "const"},
		{81, 104, "C77", "const"},   // the rest and the closing parenthesis
		{106, 158, "F", "function"}, // PackLines or more: alone, with its doc
	}, briefs(got))
	checkInvariants(t, b.String(), spans, got, true)

	// A small unit next to a big one stays apart from it.
	src := "a\n\n" + lines(PackLines, func(int) string { return "x" })
	got = Split([]byte(src), []Span{{Name: "big", StartLine: 3, EndLine: 2 + PackLines}})
	require.Equal(t, []brief{{1, 1, "", ""}, {3, 2 + PackLines, "big", ""}}, briefs(got))
}

func TestSplit(t *testing.T) {
	t.Parallel()
	goSrc := `package p

import "fmt"

// A is a thing.
// It has two lines of doc.
type A struct {
	x int
}

func (a A) M() {}


// orphan comment

var v = 1
// F does f.
func F() {
	fmt.Println()
}
`
	tests := []struct {
		name    string
		content string
		spans   []Span
		want    []brief
	}{
		{"empty", "", nil, nil},
		{"blank only", "\n  \n\t\n", []Span{{Name: "x", StartLine: 2, EndLine: 2}}, nil},
		{"no spans", "a\nb\n", nil, []brief{{1, 2, "", ""}}},
		{"no trailing newline", "a\n\nb", nil, []brief{{1, 3, "", ""}}},
		{
			"go file", goSrc,
			[]Span{
				{Name: "F", Kind: "func", StartLine: 18, EndLine: 20},
				{Name: "A", Kind: "type", StartLine: 7, EndLine: 9},
				{Name: "x", Kind: "field", StartLine: 8, EndLine: 8},
				{Name: "A.M", Kind: "method", StartLine: 11, EndLine: 11},
				{Name: "v", Kind: "var", StartLine: 16, EndLine: 16},
			},
			[]brief{
				{1, 3, "", ""},
				{5, 9, "A", "type"},
				{11, 11, "A.M", "method"},
				{14, 14, "", ""}, // the orphan comment is not directly above a span
				{16, 16, "v", "var"},
				{17, 20, "F", "func"}, // its doc is directly above it
			},
		},
		{
			"python decorators and comments", "import x\n\n# doc\n@app.route('/')\n@auth\ndef f():\n    pass\n",
			[]Span{{Name: "f", Kind: "function", StartLine: 6, EndLine: 7}},
			[]brief{{1, 1, "", ""}, {3, 7, "f", "function"}},
		},
		{
			"rust doc and attribute", "/// Doc.\n#[derive(Debug)]\nstruct S;\n",
			[]Span{{Name: "S", Kind: "struct", StartLine: 3, EndLine: 3}},
			[]brief{{1, 3, "S", "struct"}},
		},
		{
			"c block comment", "/*\n * Doc.\n */\nint f(void) {\n}\n",
			[]Span{{Name: "f", StartLine: 4, EndLine: 5}},
			[]brief{{1, 5, "f", ""}},
		},
		{
			"elixir heredoc", "defmodule M do\n  @doc \"\"\"\n  Says hi.\n\n  More.\n  \"\"\"\n  @spec hi() :: :ok\n  def hi, do: :ok\nend\n",
			[]Span{{Name: "M.hi", Kind: "function", StartLine: 8, EndLine: 8}},
			[]brief{{1, 1, "", ""}, {2, 8, "M.hi", "function"}, {9, 9, "", ""}},
		},
		{
			"doc does not steal from the previous span", "// a\nfunc a() {}\n// b\nfunc b() {}\n",
			[]Span{{Name: "a", StartLine: 1, EndLine: 3}, {Name: "b", StartLine: 4, EndLine: 4}},
			[]brief{{1, 3, "a", ""}, {4, 4, "b", ""}},
		},
		{
			"overlapping spans", "1\n2\n3\n4\n5\n",
			[]Span{{Name: "a", StartLine: 1, EndLine: 3}, {Name: "b", StartLine: 2, EndLine: 5}},
			[]brief{{1, 3, "a", ""}, {4, 5, "b", ""}},
		},
		{
			"spans out of range", "1\n2\n",
			[]Span{{Name: "a", StartLine: -3, EndLine: 1}, {Name: "b", StartLine: 2, EndLine: 99}, {Name: "c", StartLine: 5, EndLine: 4}},
			[]brief{{1, 1, "a", ""}, {2, 2, "b", ""}},
		},
		{
			"long symbol in near-equal pieces", lines(MaxLines+1, func(i int) string { return "x" }),
			[]Span{{Name: "big", Kind: "func", StartLine: 1, EndLine: MaxLines + 1}},
			[]brief{{1, 61, "big", "func"}, {62, 121, "big", "func"}},
		},
		{
			"windows without spans", lines(2*MaxLines+10, func(i int) string { return "x" }),
			nil,
			[]brief{{1, 84, "", ""}, {85, 167, "", ""}, {168, 250, "", ""}},
		},
		{
			"blank edges of pieces dropped", lines(MaxLines+2, func(i int) string {
				if i == MaxLines/2+2 {
					return ""
				}
				return "x"
			}),
			nil,
			[]brief{{1, 61, "", ""}, {63, 122, "", ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Without packing, to see the alignment rules.
			got := split([]byte(tt.content), tt.spans, 1)
			require.Equal(t, tt.want, briefs(got))
			checkInvariants(t, tt.content, tt.spans, got, false)
			checkInvariants(t, tt.content, tt.spans, Split([]byte(tt.content), tt.spans), true)
		})
	}
}

func TestContentAndHash(t *testing.T) {
	t.Parallel()
	src := "a\r\n\r\nfunc f() {\r\n}\r\n"
	got := split([]byte(src), []Span{{Name: "f", StartLine: 3, EndLine: 4}}, 1)
	require.Len(t, got, 2)
	require.Equal(t, "a\r", got[0].Content)
	require.Equal(t, "func f() {\r\n}\r", got[1].Content)
	require.Equal(t, sha256.Sum256([]byte(got[1].Content)), got[1].Hash)
}

// TestProperties checks the invariants on random files and random spans:
// nested, overlapping, out of range, duplicated.
func TestProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		n := rng.IntN(400)
		content := lines(n, func(i int) string {
			switch rng.IntN(6) {
			case 0:
				return ""
			case 1:
				return "  "
			case 2:
				return "// c"
			}
			return fmt.Sprintf("line %d", i)
		})
		if rng.IntN(4) == 0 {
			content = strings.TrimSuffix(content, "\n")
		}
		var spans []Span
		small := iter%2 == 1 // many small spans, to exercise packing
		for k := rng.IntN(12) + 30*btoi(small); k > 0; k-- {
			s := rng.IntN(n+10) - 5
			e := s + rng.IntN(2*MaxLines+50) - 3
			if small {
				e = s + rng.IntN(8) - 1
			}
			spans = append(spans, Span{Name: fmt.Sprintf("s%d", k), Kind: "k", StartLine: s, EndLine: e})
		}
		checkInvariants(t, content, spans, split([]byte(content), spans, 1), false)
		checkInvariants(t, content, spans, Split([]byte(content), spans), true)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkInvariants checks what Split promises for any input.
// With packed, small spans may share a chunk, which carries the name of
// its first symbol.
func checkInvariants(t *testing.T, content string, spans []Span, got []Chunk, packed bool) {
	t.Helper()
	ls := strings.Split(content, "\n")
	if strings.HasSuffix(content, "\n") {
		ls = ls[:len(ls)-1]
	}
	if content == "" {
		ls = nil
	}
	owner := make([]int, len(ls)+1) // chunk index+1 per line
	prevEnd := 0
	for i, c := range got {
		require.Equal(t, i, c.Ord)
		require.Greater(t, c.StartLine, prevEnd, "chunk %d overlaps or is out of order", i)
		require.LessOrEqual(t, c.StartLine, c.EndLine)
		require.LessOrEqual(t, c.EndLine-c.StartLine+1, MaxLines)
		require.Equal(t, strings.Join(ls[c.StartLine-1:c.EndLine], "\n"), c.Content)
		require.Equal(t, sha256.Sum256([]byte(c.Content)), c.Hash)
		require.NotEmpty(t, strings.TrimSpace(ls[c.StartLine-1]), "chunk %d starts blank", i)
		require.NotEmpty(t, strings.TrimSpace(ls[c.EndLine-1]), "chunk %d ends blank", i)
		for l := c.StartLine; l <= c.EndLine; l++ {
			owner[l] = i + 1
		}
		prevEnd = c.EndLine
		if c.Symbol != "" {
			named := false
			for _, sp := range spans {
				if sp.Name != c.Symbol || sp.EndLine < c.StartLine {
					continue
				}
				// The span has a line in the chunk, or the chunk is its doc
				// comment and the span's own lines are blank.
				onlyBlank := true
				for l := c.EndLine + 1; l < sp.StartLine && l <= len(ls); l++ {
					onlyBlank = onlyBlank && strings.TrimSpace(ls[l-1]) == ""
				}
				named = named || sp.StartLine <= c.EndLine || onlyBlank
			}
			require.True(t, named, "chunk %d is named %s, which has no line in it", i, c.Symbol)
		}
	}
	for l := 1; l <= len(ls); l++ {
		if strings.TrimSpace(ls[l-1]) != "" {
			require.NotZero(t, owner[l], "non-blank line %d in no chunk", l)
		}
	}
	// A span disjoint from every other span (clamped to the file) is all
	// in chunks carrying its name.
	for i, sp := range spans {
		s, e := max(sp.StartLine, 1), min(sp.EndLine, len(ls))
		if s > e {
			continue
		}
		disjoint := true
		for j, o := range spans {
			if i != j && max(o.StartLine, 1) <= e && min(o.EndLine, len(ls)) >= s {
				disjoint = false
			}
		}
		if !disjoint {
			continue
		}
		first := 0
		for l := s; l <= e; l++ {
			if owner[l] == 0 {
				continue
			}
			if !packed {
				require.Equal(t, sp.Name, got[owner[l]-1].Symbol, "line %d of span %s", l, sp.Name)
			} else if e-s+1 <= MaxLines {
				if first == 0 {
					first = owner[l]
				}
				require.Equal(t, first, owner[l], "span %s cut at line %d", sp.Name, l)
			}
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "net", "http", "server.go"))
	require.NoError(b, err)
	n := strings.Count(string(data), "\n")
	var spans []Span
	for s := 1; s < n; s += 40 {
		spans = append(spans, Span{Name: "f", Kind: "func", StartLine: s + 5, EndLine: min(s+30, n)})
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		Split(data, spans)
	}
}
