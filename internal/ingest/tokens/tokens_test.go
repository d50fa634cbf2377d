package tokens

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ", nil},
		{"&|!():*", nil},
		{"foo", []string{"foo"}},
		{"parseHTTPRequest", []string{"parse", "http", "request"}},
		{"HTTPServer", []string{"http", "server"}},
		{"ParseHttpRequest", []string{"parse", "http", "request"}},
		{"foo_bar.BazQux", []string{"foo", "bar", "baz", "qux"}},
		{"snake_case_name", []string{"snake", "case", "name"}},
		{"SCREAMING_SNAKE", []string{"screaming", "snake"}},
		{"kebab-case-name", []string{"kebab", "case", "name"}},
		{"std::vector::push_back", []string{"std", "vector", "push", "back"}},
		{"a.b.c", []string{"a", "b", "c"}},
		{"__init__", []string{"init"}},
		{"IDs", []string{"ids"}},
		{"getIDs", []string{"get", "ids"}},
		{"userIDsMap", []string{"user", "ids", "map"}},
		{"URLs", []string{"urls"}},
		{"ASet", []string{"a", "set"}},
		{"ID", []string{"id"}},
		{"userID", []string{"user", "id"}},
		{"utf8", []string{"utf8"}},
		{"int64", []string{"int64"}},
		{"utf8mb4", []string{"utf8mb4"}},
		{"Base64Encode", []string{"base64", "encode"}},
		{"HTTP2Server", []string{"http2", "server"}},
		{"sha256Sum", []string{"sha256", "sum"}},
		{"x86_64", []string{"x86", "64"}},
		{"123", []string{"123"}},
		{"ÜberFuß", []string{"über", "fuß"}},
		{"naïveÉcole", []string{"naïve", "école"}},
		{"日本語Name", []string{"日本語", "name"}},
		{"ΑλφαΒήτα", []string{"αλφα", "βήτα"}},
		{"foo bar", []string{"foo", "bar"}},
		{"a  fooBar(x_y)", []string{"a", "foo", "bar", "x", "y"}},
		{"dup dup", []string{"dup", "dup"}},
		{"\xff\xfeabc", []string{"abc"}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Split(tt.in), "Split(%q)", tt.in)
	}
}

func TestWords(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"a", "fooBar", "x_y"}, Words("a.fooBar(x_y)"))
	require.Nil(t, Words("::"))
}

func TestForIndex(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"x := parseHTTPRequest(r)", "x parsehttprequest parse http request r"},
		{"foo_bar.BazQux", "foobar foo bar bazqux baz qux"},
		{"func main() {}", "func main"},
		{"IDs utf8", "ids utf8"},
		{"'&|!():*\\", ""},
		{"ÜberFuß", "überfuß über fuß"},
		{strings.Repeat("a", MaxWordLen+1) + " ok", "ok"},
		{strings.Repeat("a", MaxWordLen), strings.Repeat("a", MaxWordLen)},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ForIndex(tt.in), "ForIndex(%q)", tt.in)
	}
}

func TestForQuery(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"request", "request"},
		{"parseHTTP request", "parse & http & request"},
		{"parsehttprequest", "parsehttprequest"},
		{"foo_bar.BazQux", "foo & bar & baz & qux"},
		{"Foo foo FOO", "foo"},
		{"'", ""},
		{"&|!():*", ""},
		{`\`, ""},
		{`\'a'\ & b:* | !c`, "a & b & c"},
		{"a<->b <2> c", "a & b & 2 & c"},
		{"'; DROP TABLE x; --", "drop & table & x"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ForQuery(tt.in), "ForQuery(%q)", tt.in)
	}
	long := strings.Repeat("word ", 10000) + strings.Repeat("x", 100000)
	require.Equal(t, "word", ForQuery(long))
	var many []string
	for i := 0; i < 100; i++ {
		many = append(many, "t"+strings.Repeat("x", i))
	}
	require.Len(t, strings.Split(ForQuery(strings.Join(many, " ")), " & "), MaxQueryTerms)
}

// FuzzForQuery checks that a query is only terms of letters and digits
// joined by " & ", whatever the input.
func FuzzForQuery(f *testing.F) {
	for _, s := range []string{"", "'", "&|!():*", `\\`, "a & b", "parseHTTPRequest", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out := ForQuery(q)
		if out == "" {
			return
		}
		for _, term := range strings.Split(out, " & ") {
			require.NotEmpty(t, term)
			for _, r := range term {
				require.True(t, unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r), "rune %q in %q", r, out)
			}
		}
	})
}

func goFile(b *testing.B) string {
	b.Helper()
	// About 100 KB of Go: the standard library's net/http/server.go is
	// larger; take its first 100 KB.
	data, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "net", "http", "server.go"))
	require.NoError(b, err)
	if len(data) > 100<<10 {
		data = data[:100<<10]
	}
	return string(data)
}

func BenchmarkForIndex100KB(b *testing.B) {
	src := goFile(b)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		ForIndex(src)
	}
}

func BenchmarkSplit100KB(b *testing.B) {
	src := goFile(b)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		Split(src)
	}
}

func TestWalk(t *testing.T) {
	t.Parallel()
	var got []string
	Walk("x.parseHTTP(__, "+strings.Repeat("a", MaxWordLen+1)+") y_z", func(word string, parts []string) {
		got = append(got, word+"="+strings.Join(parts, ","))
	})
	require.Equal(t, []string{"x=x", "parseHTTP=parse,HTTP", "y_z=y,z"}, got)
}
