// Package parse turns source into an Outline (declarations, imports and
// references) with real parsers: go/parser for Go and tree-sitter for
// Python, JavaScript, TypeScript, Rust and Elixir; and it derives symbols
// and imports from an Outline. The Outline is the parsing step's output,
// passed as JSON to the symbol and import extraction steps.
package parse

import "errors"

// ErrUnsupported is returned by Parse for a language without a parser.
var ErrUnsupported = errors.New("no parser for this language")

// Outline is what parsing a file found.
type Outline struct {
	Language string   `json:"language"`
	Decls    []Decl   `json:"decls,omitempty"`
	Imports  []Import `json:"imports,omitempty"`
	Refs     []Ref    `json:"refs,omitempty"`
	// Errors counts syntax errors (the parse went on past them).
	Errors int `json:"errors,omitempty"`
}

// Decl is a declaration: a function, method, type, class, module, ...
type Decl struct {
	Kind       string `json:"kind"` // function, method, type, struct, interface, class, module, const, var, field, macro, impl, trait, enum
	Name       string `json:"name"`
	Parent     string `json:"parent,omitempty"` // receiver type, class or module it belongs to
	StartLine  int    `json:"start_line"`       // 1-based, inclusive
	EndLine    int    `json:"end_line"`
	StartByte  int    `json:"start_byte"`
	EndByte    int    `json:"end_byte"`
	SigEndByte int    `json:"sig_end_byte"`  // where the signature ends (the body starts); EndByte when none
	Doc        string `json:"doc,omitempty"` // the doc comment, comment markers removed
}

// Import is one import as written.
type Import struct {
	Path  string `json:"path"`            // "net/http", "os.path", "./util", "crate::a::b", "Foo.Bar"
	Alias string `json:"alias,omitempty"` // a local name, when the import gives one
	Line  int    `json:"line"`
}

// Ref is a use of a name that may be defined in another file, counted.
type Ref struct {
	Qualifier string `json:"qualifier,omitempty"` // "http" in http.Get; "" for a bare name
	Name      string `json:"name"`
	Count     int    `json:"count"`
}

// Symbol is a declaration as search shows it.
type Symbol struct {
	Name      string `json:"name"`
	Qualified string `json:"qualified"` // Parent.Name, or Name
	Kind      string `json:"kind"`
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
	Signature string `json:"signature"` // the declaration up to its body, whitespace collapsed, at most 512 bytes
	Doc       string `json:"doc,omitempty"`
}

// Supported reports whether Parse has a parser for language.
func Supported(language string) bool { return false }

// Parse parses content of the given language (a lang.Detect id).
func Parse(language string, content []byte) (*Outline, error) {
	return nil, ErrUnsupported
}

// Symbols returns the symbols of an outline, in source order; content is
// the source the outline was parsed from (for signatures).
func Symbols(o *Outline, content []byte) []Symbol { return nil }
