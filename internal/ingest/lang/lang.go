// Package lang names a file's language (go-enry) and decides whether its
// content is worth ingesting (not binary, valid UTF-8, not generated, not
// minified).
package lang

// Skip reasons for content that is not ingested.
const (
	ReasonBinary      = "binary"
	ReasonInvalidUTF8 = "invalid_utf8"
	ReasonGenerated   = "generated"
	ReasonMinified    = "minified"
)

// Detect returns the language id of a file from its path and content: a
// lowercase name such as "go", "python", "javascript", "typescript",
// "rust", "elixir", "markdown"; "" when no language is known.
func Detect(path string, content []byte) string {
	return ""
}

// Validate returns the reason content at path is not ingested, or "" when
// it is.
func Validate(path string, content []byte) string {
	return ""
}
