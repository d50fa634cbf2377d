package parse

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestSymbols(t *testing.T) {
	t.Parallel()

	src := []byte("func  (s *S)\n\tLong(a int,\n\t\tb string)   error {\n}\n")
	long := strings.Repeat("é", 300) // 600 bytes, 2 per rune
	for _, tt := range []struct {
		name    string
		decl    Decl
		content []byte
		want    Symbol
	}{
		{
			name:    "white space collapsed, parent qualifies",
			decl:    Decl{Kind: "method", Name: "Long", Parent: "S", StartLine: 1, EndLine: 4, StartByte: 0, SigEndByte: strings.IndexByte(string(src), '{'), EndByte: len(src), Doc: "\n  Long does.\n\n"},
			content: src,
			want:    Symbol{Name: "Long", Qualified: "S.Long", Kind: "method", StartLine: 1, EndLine: 4, Signature: "func (s *S) Long(a int, b string) error", Doc: "Long does."},
		},
		{
			name:    "cut at 512 bytes on a rune boundary",
			decl:    Decl{Kind: "const", Name: "X", StartByte: 0, SigEndByte: len("const X = \"" + long), EndByte: len("const X = \"" + long)},
			content: []byte("const X = \"" + long),
			want:    Symbol{Name: "X", Qualified: "X", Kind: "const", Signature: ("const X = \"" + long)[:511]},
		},
		{
			name:    "range outside content: no signature",
			decl:    Decl{Kind: "function", Name: "f", StartByte: 10, SigEndByte: 99, EndByte: 99},
			content: []byte("short"),
			want:    Symbol{Name: "f", Qualified: "f", Kind: "function"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Symbols(&Outline{Decls: []Decl{tt.decl}}, tt.content)
			require.Equal(t, []Symbol{tt.want}, got)
			require.LessOrEqual(t, len(got[0].Signature), MaxSignature)
			require.True(t, utf8.ValidString(got[0].Signature))
		})
	}
	require.Nil(t, Symbols(nil, nil))
	require.Nil(t, Symbols(&Outline{}, nil))
}

// TestParseGoLineDirective checks that lines are those of the content, not
// those a //line directive claims.
func TestParseGoLineDirective(t *testing.T) {
	t.Parallel()

	src := []byte("package p\n\nimport \"fmt\"\n\n//line gen.y:100\nfunc F() {\n\tfmt.Println()\n}\n")
	o, err := Parse("go", src)
	require.NoError(t, err)
	require.Zero(t, o.Errors)
	require.Equal(t, []Symbol{{Name: "F", Qualified: "F", Kind: "function", StartLine: 6, EndLine: 8, Signature: "func F()"}}, Symbols(o, src))
	require.Equal(t, []Import{{Path: "fmt", Line: 3}}, o.Imports)
	require.Equal(t, []Ref{{Qualifier: "fmt", Name: "Println", Count: 1}}, o.Refs)
}

func TestImportName(t *testing.T) {
	t.Parallel()

	for p, want := range map[string]string{
		"fmt": "fmt", "net/http": "http", "math/rand/v2": "rand", "gopkg.in/yaml.v3": "yaml",
		"github.com/mattn/go-sqlite3": "sqlite3", "github.com/x/thing-go": "thing", "github.com/x/my-lib": "my_lib",
		"github.com/jackc/pgx/v5": "pgx",
	} {
		require.Equal(t, want, ImportName(p), p)
	}
}

func TestImportCandidates(t *testing.T) {
	t.Parallel()

	const mod = "github.com/quantumflow/quantumflow"
	for _, tt := range []struct {
		lang, from, imp, module string
		want                    []string
	}{
		// Go
		{"go", "cmd/x/main.go", mod + "/internal/ingest/parse", mod, []string{"internal/ingest/parse/"}},
		{"go", "cmd/x/main.go", mod, mod, []string{""}},
		{"go", "cmd/x/main.go", mod + "x/other", mod, nil},
		{"go", "cmd/x/main.go", "fmt", mod, nil},
		{"go", "a.go", "fmt", "", nil},
		{"go", "net/http/server.go", "net/textproto", StdModule, []string{"net/textproto/"}},
		{"go", "net/http/server.go", "golang.org/x/net/http/httpguts", StdModule, []string{"vendor/golang.org/x/net/http/httpguts/", "cmd/vendor/golang.org/x/net/http/httpguts/"}},
		// Python
		{"python", "app/main.py", "a.b", "", []string{"a/b.py", "a/b/__init__.py"}},
		{"python", "app/main.py", "os", "", []string{"os.py", "os/__init__.py"}},
		{"python", "pkg/sub/m.py", ".x", "", []string{"pkg/sub/x.py", "pkg/sub/x/__init__.py"}},
		{"python", "pkg/sub/m.py", "..x.y", "", []string{"pkg/x/y.py", "pkg/x/y/__init__.py"}},
		{"python", "pkg/sub/m.py", ".", "", []string{"pkg/sub/__init__.py"}},
		{"python", "m.py", ".x", "", []string{"x.py", "x/__init__.py"}},
		{"python", "m.py", "..x", "", nil},
		// JavaScript and TypeScript
		{"typescript", "src/app/main.ts", "./a", "", []string{"src/app/a.ts", "src/app/a.tsx", "src/app/a.js", "src/app/a.jsx", "src/app/a/index.ts", "src/app/a/index.tsx", "src/app/a/index.js", "src/app/a/index.jsx"}},
		{"javascript", "src/main.js", "../lib/u.js", "", []string{"lib/u.js", "lib/u.ts", "lib/u.tsx"}},
		{"typescript", "src/main.ts", "./data.json", "", []string{"src/data.json"}},
		{"typescript", "src/main.ts", "./app.config", "", []string{"src/app.config.ts", "src/app.config.tsx", "src/app.config.js", "src/app.config.jsx", "src/app.config/index.ts", "src/app.config/index.tsx", "src/app.config/index.js", "src/app.config/index.jsx"}},
		{"tsx", "main.tsx", ".", "", []string{"index.ts", "index.tsx", "index.js", "index.jsx"}},
		{"javascript", "src/main.js", "react", "", nil},
		{"javascript", "main.js", "../outside", "", nil},
		// Rust
		{"rust", "src/main.rs", "crate::a::b", "", []string{"src/a/b.rs", "src/a/b/mod.rs", "src/a.rs", "src/a/mod.rs"}},
		{"rust", "crates/x/src/lib.rs", "crate::store", "", []string{"crates/x/src/store.rs", "crates/x/src/store/mod.rs"}},
		{"rust", "src/a/b.rs", "self::c", "", []string{"src/a/b/c.rs", "src/a/b/c/mod.rs"}},
		{"rust", "src/a/mod.rs", "self::c::*", "", []string{"src/a/c.rs", "src/a/c/mod.rs"}},
		{"rust", "src/a/b.rs", "super::util::f", "", []string{"src/a/util/f.rs", "src/a/util/f/mod.rs", "src/a/util.rs", "src/a/util/mod.rs"}},
		{"rust", "src/lib.rs", "std::collections::HashMap", "", nil},
		{"rust", "src/lib.rs", "crate", "", nil},
		// Elixir resolves by module name, other languages not at all.
		{"elixir", "lib/shop/cart.ex", "Shop.Item", "", nil},
		{"markdown", "README.md", "x", "", nil},
	} {
		t.Run(tt.lang+" "+tt.imp, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ImportCandidates(tt.lang, tt.from, tt.imp, tt.module))
		})
	}
}
