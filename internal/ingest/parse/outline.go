// Package parse turns source into an Outline (declarations, imports and
// references) with real parsers: go/parser for Go and tree-sitter for
// Python, JavaScript, TypeScript, Rust and Elixir; and it derives symbols
// and imports from an Outline. The Outline is the parsing step's output,
// passed as JSON to the symbol and import extraction steps.
//
// Conventions that hold for every language:
//
//   - Kinds come from one set: function, method, type, struct, interface,
//     class, module, const, var, enum, trait, impl, macro, field.
//   - Parent is the receiver type, class, impl type, trait or module a
//     declaration belongs to, and Symbol.Qualified joins it with "." in
//     every language (Rust's "::" too), so one query form finds a method
//     anywhere.
//   - Lines are 1-based and inclusive; byte offsets index the content as
//     given. A declaration's range starts at its keyword, not at its doc
//     comment or decorators.
//   - Refs are uses of names qualified by something that may live in
//     another file (an import's name in Go, Python and JavaScript; a path
//     in Rust; an alias in Elixir), counted per (qualifier, name), sorted.
//     Unqualified names are not refs.
//   - Imports are in source order with their line; ImportCandidates maps
//     one to the files it may refer to.
//   - TSX is its own language id ("tsx", see lang.TSX): it needs its own
//     grammar, and the TypeScript grammar does not take JSX.
//
// Each extractor's comment (extractPython, extractJS, extractRust,
// extractElixir, parseGo) lists exactly what it finds.
package parse

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/quantumflow/quantumflow/internal/ingest/lang"
)

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

// Supported reports whether Parse has a parser for language: "go" always;
// "python", "javascript", "typescript", "tsx", "rust" and "elixir" when
// the binary was built with cgo (tree-sitter is C).
func Supported(language string) bool {
	return language == lang.Go || treeSitterSupported(language)
}

// Parse parses content of the given language (a lang.Detect id). A syntax
// error is not an error: Parse returns what it could parse and counts the
// errors in Outline.Errors. The error it returns is ErrUnsupported (wrapped,
// with the language) when there is no parser for language.
func Parse(language string, content []byte) (*Outline, error) {
	if language == lang.Go {
		return parseGo(content), nil
	}
	if !treeSitterSupported(language) {
		return nil, fmt.Errorf("parse %q: %w", language, ErrUnsupported)
	}
	return parseTreeSitter(language, content), nil
}

// MaxSignature is the most bytes a Symbol's Signature has.
const MaxSignature = 512

// Symbols returns the symbols of an outline, in source order; content is
// the source the outline was parsed from (for signatures).
//
// Qualified is Parent + "." + Name, or Name without a parent, in every
// language (Rust's "::" and Elixir's "." alike become "."), so that one
// search form finds a method in any language. Signature is
// content[StartByte:SigEndByte] with each run of white space collapsed to
// one space, cut to at most MaxSignature bytes at a UTF-8 boundary. Doc is
// the declaration's doc with surrounding white space trimmed. A Decl whose
// byte range does not fit content gets an empty Signature.
func Symbols(o *Outline, content []byte) []Symbol {
	if o == nil || len(o.Decls) == 0 {
		return nil
	}
	syms := make([]Symbol, 0, len(o.Decls))
	for _, d := range o.Decls {
		q := d.Name
		if d.Parent != "" {
			q = d.Parent + "." + d.Name
		}
		var sig string
		if 0 <= d.StartByte && d.StartByte <= d.SigEndByte && d.SigEndByte <= len(content) {
			sig = signature(content[d.StartByte:d.SigEndByte])
		}
		syms = append(syms, Symbol{
			Name:      d.Name,
			Qualified: q,
			Kind:      d.Kind,
			StartLine: d.StartLine,
			EndLine:   d.EndLine,
			Signature: sig,
			Doc:       strings.TrimSpace(d.Doc),
		})
	}
	return syms
}

// signature collapses white space in b and cuts it to MaxSignature bytes.
func signature(b []byte) string {
	var sb strings.Builder
	sb.Grow(min(len(b), MaxSignature))
	space := false
	for _, r := range strings.TrimSpace(string(b)) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			if sb.Len()+1 > MaxSignature {
				break
			}
			sb.WriteByte(' ')
			space = false
		}
		if sb.Len()+utf8.RuneLen(r) > MaxSignature {
			break
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
