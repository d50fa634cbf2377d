// Package lang names a file's language (go-enry) and decides whether its
// content is worth ingesting (not binary, valid UTF-8, not generated, not
// minified).
package lang

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/go-enry/go-enry/v2"
)

// Skip reasons for content that is not ingested.
const (
	ReasonBinary      = "binary"
	ReasonInvalidUTF8 = "invalid_utf8"
	ReasonGenerated   = "generated"
	ReasonMinified    = "minified"
)

// Language ids that the parse package has parsers for. Every other
// language's id is its go-enry (Linguist) name lowercased with spaces
// replaced by "-", as ID does.
const (
	Go         = "go"
	Python     = "python"
	JavaScript = "javascript"
	TypeScript = "typescript"
	TSX        = "tsx" // TypeScript with JSX: its own id because it needs its own grammar
	Rust       = "rust"
	Elixir     = "elixir"
)

// classifyLimit is how much content the Bayesian classifier sees when a
// file's name leaves several languages open (".h", ".m", ".pl", ...). The
// classifier's cost grows with the content; its head is what decides.
const classifyLimit = 2 << 10

// Detect returns the language id of a file from its path and content: a
// lowercase name such as "go", "python", "javascript", "typescript",
// "rust", "elixir", "markdown"; "" when no language is known.
//
// The file name decides when it names exactly one language (a known file
// name such as "Makefile", then the extension); only when it names none or
// several does Detect look at the content: shebang, Linguist's heuristics
// and, among the remaining candidates, go-enry's classifier over the first
// 2 KiB. Extensions that only assembly languages claim (".s", ".asm")
// give "assembly" without the classifier. A modeline that contradicts a
// file's name is not honoured. Over the Go source tree (11 478 files)
// Detect takes about 0.06 s of CPU in all on this machine.
func Detect(path string, content []byte) string {
	name := filepath.Base(path)
	if l := only(enry.GetLanguagesByFilename(name, nil, nil)); l != "" {
		return ID(l)
	}
	byExt := enry.GetLanguagesByExtension(name, nil, nil)
	if len(byExt) == 1 {
		return ID(byExt[0])
	}
	if len(byExt) > 1 && allAssembly(byExt) {
		return "assembly"
	}
	if len(content) > classifyLimit {
		content = content[:classifyLimit]
	}
	return ID(enry.GetLanguage(name, content))
}

// allAssembly reports whether every candidate is an assembly language
// (".s", ".S", ".asm", ".inc" claim several). The classifier cannot tell
// them apart reliably (it calls Go's assembly "Motorola 68K Assembly") and
// is the slowest path, so such a file is "assembly".
func allAssembly(langs []string) bool {
	for _, l := range langs {
		if !strings.Contains(l, "Assembly") {
			return false
		}
	}
	return true
}

// only returns the single language in langs, or "" when there are none or
// several.
func only(langs []string) string {
	if len(langs) == 1 {
		return langs[0]
	}
	return ""
}

// ID maps a go-enry (Linguist) language name to our id: "Go" → "go",
// "JavaScript" → "javascript", "TSX" → "tsx", "Emacs Lisp" → "emacs-lisp";
// every name is lowercased and its spaces become "-". "" stays "".
func ID(enryName string) string {
	return strings.ReplaceAll(strings.ToLower(enryName), " ", "-")
}

// minified thresholds: a file whose average line is longer than these is
// minified. 110 is Linguist's (and go-enry's) rule for JavaScript and CSS;
// other text gets a looser bound, and must be at least minMinifiedSize
// bytes, so that data tables with long lines are still ingested.
const (
	minMinifiedSize     = 1 << 10
	minifiedAvgLineJSCS = 110
	minifiedAvgLine     = 1000
)

// generatedPrefix is what may stand before "Code generated" on a
// generated-code header line: Go's convention
// (https://go.dev/s/generatedcode), which other languages' generators use
// too after their own comment marker.
var generatedPrefix = regexp.MustCompile(`^[ \t]*(?://|#|--|;+|/?\*+|<!--|%)?[ \t]*$`)

// headerLimit is how far into a file Validate looks for a generated-code
// header.
const headerLimit = 4 << 10

// Validate returns the reason content at path is not ingested, or "" when
// it is. The checks, in order:
//
//   - ReasonBinary: a NUL byte in the first 8000 bytes (go-enry's IsBinary,
//     git's rule).
//   - ReasonInvalidUTF8: the content is not valid UTF-8.
//   - ReasonMinified: the name ends in ".min.js", ".min.mjs" or ".min.css";
//     or the average line is longer than 110 bytes in a JavaScript or CSS
//     file (Linguist's rule); or, in any other file of at least 1 KiB,
//     longer than 1000 bytes.
//   - ReasonGenerated: a "Code generated ... DO NOT EDIT." line (after
//     nothing but a comment marker) in the first 4 KiB, or go-enry's IsGenerated (lock files, protobuf and
//     gRPC outputs, source maps, Cython, PEG.js, ... by name and content).
func Validate(path string, content []byte) string {
	switch {
	case enry.IsBinary(content):
		return ReasonBinary
	case !utf8.Valid(content):
		return ReasonInvalidUTF8
	case isMinified(path, content):
		return ReasonMinified
	case isGenerated(path, content):
		return ReasonGenerated
	}
	return ""
}

func isMinified(path string, content []byte) bool {
	name := strings.ToLower(filepath.Base(path))
	for _, suffix := range []string{".min.js", ".min.mjs", ".min.css"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	limit := minifiedAvgLine
	switch filepath.Ext(name) {
	case ".js", ".mjs", ".cjs", ".css":
		limit = minifiedAvgLineJSCS
	default:
		if len(content) < minMinifiedSize {
			return false
		}
	}
	if len(content) == 0 {
		return false
	}
	lines := bytes.Count(content, []byte{'\n'})
	if len(content) > 0 && content[len(content)-1] != '\n' {
		lines++
	}
	return len(content)/lines > limit
}

func isGenerated(path string, content []byte) bool {
	head := content
	if len(head) > headerLimit {
		head = head[:headerLimit]
	}
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		i := bytes.Index(line, []byte("Code generated "))
		if i >= 0 && bytes.Contains(line[i:], []byte(" DO NOT EDIT.")) && generatedPrefix.Match(line[:i]) {
			return true
		}
	}
	return enry.IsGenerated(unvendored(path), content)
}

// unvendored cuts path after its last "vendor/" or "node_modules/"
// directory, so that go-enry's IsGenerated, which counts everything
// vendored as generated by name alone, judges a vendored file like any
// other: whether vendored code is ingested is the scan's ignore rules'
// decision, not a property of the content.
func unvendored(path string) string {
	path = filepath.ToSlash(path)
	for _, dir := range []string{"vendor/", "node_modules/"} {
		if i := strings.LastIndex(path, dir); i >= 0 && (i == 0 || path[i-1] == '/') {
			path = path[i+len(dir):]
		}
	}
	return path
}
