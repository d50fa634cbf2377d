package ingest

import (
	"regexp"
	"testing"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/stretchr/testify/require"
)

// TestGlobRegex: the regex a glob becomes matches every path the glob
// matches (no result is lost in SQL), and exactly those paths for globs
// without a [class] (which results() checks in Go).
func TestGlobRegex(t *testing.T) {
	t.Parallel()
	paths := []string{
		"a.go", "a_test.go", "dir/a.go", "dir/sub/a.go", "dir/sub/deep/b.py", "dir", "dir/", "dirx/a.go",
		"x/dir/a.go", "a.b/c+d.go", "(x)|y/$z.go", "f.go.bak", "net/http/server.go", "net/url/url.go",
		"日本/語.go", "a?b", "a*b", "x.[ch]", "sub/a.c", "sub/a.h", "sub/a.d",
	}
	globs := []string{
		"*.go", "**/*.go", "dir/**", "dir/**/a.go", "**", "dir/*", "?.go", "*_test.go",
		"net/{http,url}/*.go", "{a,dir/a}.go", "a.b/c+d.go", "(x)|y/$z.go", "**/sub/**", "日本/*.go",
		`a\?b`, `a\*b`, "sub/a.[ch]", "sub/a.[!c]", "dir/**/*.py", "*/a.go", "**/a.go",
	}
	for _, g := range globs {
		re, err := globRegex(g)
		require.NoError(t, err, g)
		rx, err := regexp.Compile(re)
		require.NoError(t, err, "glob %q gave regex %q", g, re)
		exact := !regexp.MustCompile(`\[`).MatchString(g)
		for _, p := range paths {
			want, err := doublestar.Match(g, p)
			require.NoError(t, err)
			got := rx.MatchString(p)
			if want {
				require.True(t, got, "glob %q (regex %q) must match %q", g, re, p)
			} else if exact {
				require.False(t, got, "glob %q (regex %q) must not match %q", g, re, p)
			}
		}
	}
	for _, bad := range []string{"a/[b", "{a,b", `a\`} {
		_, err := globRegex(bad)
		require.Error(t, err, bad)
	}
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	content := "// doc\nfunc parseHTTPRequest(r io.Reader) {\n\tline := read(r)\n\n\treturn line\n}\n\n// trailing\n"
	tests := []struct {
		name, query string
		best        int
		snippet     string
	}{
		{"whole query", "read(r)", 12, "func parseHTTPRequest(r io.Reader) {\n\tline := read(r)\n\n\treturn line\n}"},
		{"most words", "return the line", 14, "\n\treturn line\n}\n\n// trailing"},
		{"no match: first line", "zzz", 10, "// doc\nfunc parseHTTPRequest(r io.Reader) {\n\tline := read(r)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			best := bestLine(content, 10, tt.query, snippetTerms(tt.query))
			require.Equal(t, tt.best, best)
			got := snippet(content, 10, best)
			require.Equal(t, trimLeadingBlank(tt.snippet), got)
		})
	}
	long := string(make([]byte, 0)) + "x" + string([]rune{'é'})
	for len(long) < 300 {
		long += "é"
	}
	s := snippet(long, 1, 1)
	require.LessOrEqual(t, len(s), snippetWidth+len("…"))
	require.True(t, regexp.MustCompile(`^x(é)+…$`).MatchString(s), "cut on a rune boundary: %q", s)
}

func trimLeadingBlank(s string) string {
	for len(s) > 0 && s[0] == '\n' {
		s = s[1:]
	}
	return s
}

func TestTSQueries(t *testing.T) {
	t.Parallel()
	tests := []struct{ q, all, anyQ string }{
		{"parse http request", "'parse' & 'http' & 'request'", "'parse' | 'http' | 'request'"},
		{"a & b | !c", "'a' & 'b' & 'c'", "'a' | 'b' | 'c'"},
		{"it's", "'it' & 's'", "'it' | 's'"},
		{"&&& :* ()", "", ""},
		{"x x", "'x'", "'x'"},
	}
	for _, tt := range tests {
		all, anyQ := tsQueries(tt.q)
		require.Equal(t, tt.all, all, tt.q)
		require.Equal(t, tt.anyQ, anyQ, tt.q)
	}
}

func TestSymbolName(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"parseHTTPRequest": "parseHTTPRequest", "http.Get": "Get", "crate::a::B": "B",
		"parse http request": "parsehttprequest", " x ": "x", "a.": "a.", "http.Get now": "http.Getnow",
	} {
		require.Equal(t, want, symbolName(q), q)
	}
}
