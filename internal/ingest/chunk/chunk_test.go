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
			got := Split([]byte(tt.content), tt.spans)
			require.Equal(t, tt.want, briefs(got))
			checkInvariants(t, tt.content, tt.spans, got)
		})
	}
}

func TestContentAndHash(t *testing.T) {
	t.Parallel()
	src := "a\r\n\r\nfunc f() {\r\n}\r\n"
	got := Split([]byte(src), []Span{{Name: "f", StartLine: 3, EndLine: 4}})
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
		for k := rng.IntN(12); k > 0; k-- {
			s := rng.IntN(n+10) - 5
			e := s + rng.IntN(2*MaxLines+50) - 3
			spans = append(spans, Span{Name: fmt.Sprintf("s%d", k), Kind: "k", StartLine: s, EndLine: e})
		}
		got := Split([]byte(content), spans)
		checkInvariants(t, content, spans, got)
	}
}

// checkInvariants checks what Split promises for any input.
func checkInvariants(t *testing.T, content string, spans []Span, got []Chunk) {
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
		for l := s; l <= e; l++ {
			if owner[l] != 0 {
				require.Equal(t, sp.Name, got[owner[l]-1].Symbol, "line %d of span %s", l, sp.Name)
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
