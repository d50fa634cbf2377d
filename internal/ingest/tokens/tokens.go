// Package tokens splits identifiers into the sub-tokens people search for:
// parseHTTPRequest → parse, http, request; foo_bar.BazQux → foo, bar, baz,
// qux. PostgreSQL's 'simple' parser keeps identifiers whole, so text is
// expanded with its sub-tokens before to_tsvector.
package tokens

// Split returns the lowercase sub-tokens of s, in order, without
// duplicates removed.
func Split(s string) []string { return nil }

// ForIndex returns text for to_tsvector('simple', ...): every word of text
// followed by its sub-tokens when it has more than one.
func ForIndex(text string) string { return "" }
