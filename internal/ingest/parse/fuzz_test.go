package parse

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// checkOutline fails t when an outline breaks the invariants every
// consumer relies on: byte ranges inside content and ordered, lines
// ordered, signatures at most MaxSignature bytes of valid UTF-8.
func checkOutline(t *testing.T, o *Outline, content []byte) {
	t.Helper()
	for _, d := range o.Decls {
		if d.Name == "" || d.Kind == "" {
			t.Fatalf("decl without name or kind: %+v", d)
		}
		if !(0 <= d.StartByte && d.StartByte <= d.SigEndByte && d.SigEndByte <= d.EndByte && d.EndByte <= len(content)) {
			t.Fatalf("bad byte range: %+v (len %d)", d, len(content))
		}
		if d.StartLine < 1 || d.EndLine < d.StartLine {
			t.Fatalf("bad lines: %+v", d)
		}
	}
	for _, s := range Symbols(o, content) {
		if len(s.Signature) > MaxSignature || !utf8.ValidString(s.Signature) {
			t.Fatalf("bad signature: %q", s.Signature)
		}
	}
	for _, r := range o.Refs {
		if r.Count < 1 || r.Name == "" {
			t.Fatalf("bad ref: %+v", r)
		}
	}
}

func addSeeds(f *testing.F, pattern string, add func(content []byte)) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			add(b)
		}
	}
}

// FuzzParseGo parses arbitrary input as Go: no panic, and the outline's
// invariants hold.
func FuzzParseGo(f *testing.F) {
	addSeeds(f, "*.go.txt", func(b []byte) { f.Add(b) })
	f.Add([]byte("package p\nfunc (x *T[K, V]) M() {}\ntype S struct{}\n"))
	f.Fuzz(func(t *testing.T, content []byte) {
		o, err := Parse("go", content)
		if err != nil {
			t.Fatal(err)
		}
		checkOutline(t, o, content)
	})
}

// treeSitterLangs are the languages FuzzParseTreeSitter picks from.
var treeSitterLangs = []string{"python", "javascript", "typescript", "tsx", "rust", "elixir"}

// FuzzParseTreeSitter parses arbitrary input with one of the tree-sitter
// grammars (chosen by the first argument): no panic, and the outline's
// invariants hold.
func FuzzParseTreeSitter(f *testing.F) {
	for i, ext := range []string{"py", "js", "ts", "tsx", "rs", "ex"} {
		addSeeds(f, "*."+ext, func(b []byte) { f.Add(uint8(i), b) })
	}
	f.Fuzz(func(t *testing.T, which uint8, content []byte) {
		l := treeSitterLangs[int(which)%len(treeSitterLangs)]
		if !Supported(l) {
			if _, err := Parse(l, content); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("%s without a parser: %v, want ErrUnsupported", l, err)
			}
			return
		}
		o, err := Parse(l, content)
		if err != nil {
			t.Fatal(err)
		}
		checkOutline(t, o, content)
	})
}
