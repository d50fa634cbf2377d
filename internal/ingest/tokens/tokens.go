// Package tokens splits identifiers into the sub-tokens people search for:
// parseHTTPRequest → parse, http, request; foo_bar.BazQux → foo, bar, baz,
// qux. PostgreSQL's 'simple' parser keeps identifiers whole (it even reads
// foo_bar.BazQux as one "file" token), so text is expanded with its
// sub-tokens before to_tsvector, and queries are built from the same
// sub-tokens with ForQuery.
//
// # Rules
//
// A word is a maximal run of letters, digits, combining marks and
// underscores; everything else (spaces, punctuation, '-', '.', "::", '/')
// separates words. A word splits into sub-tokens at underscores and at case
// changes:
//
//   - lower to upper: parseHTTP → parse, http
//   - an acronym before a capitalised word: HTTPServer → http, server
//   - a plural acronym stays whole: IDs → ids, getURLs → get, urls (an
//     acronym followed by a lone "s" at the end of the word or before the
//     next capital is read as a plural, not as the start of a word)
//   - digits stay with what precedes them: utf8 → utf8, int64 → int64,
//     HTTP2Server → http2, server, sha256Sum → sha256, sum; a capital after
//     digits starts a new sub-token (Base64Encode → base64, encode). We keep
//     utf8 whole because it is what people type.
//   - letters without case (CJK, for example) continue the sub-token they
//     are in.
//
// Output is lowercase (unicode.ToLower).
package tokens

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxWordLen is the longest word, in bytes, that ForIndex and ForQuery
// keep. Longer runs are hashes, base64 blobs or minified code rather than
// identifiers anyone searches for, and PostgreSQL refuses lexemes over 2047
// bytes anyway.
const MaxWordLen = 128

// MaxQueryTerms bounds the terms of a ForQuery result; words past it are
// dropped, so a pasted file cannot become a huge tsquery.
const MaxQueryTerms = 32

// Split returns the lowercase sub-tokens of s, in order, without
// duplicates removed. Split("foo_bar.BazQux") is [foo bar baz qux]; a
// string without letters or digits gives nil.
func Split(s string) []string {
	var out []string
	words(s, func(w string) {
		parts(w, func(p string) { out = append(out, lower(p)) })
	})
	return out
}

// Words returns the words of s (see the package doc), unsplit and in their
// original case: Words("a.fooBar(x_y)") is [a fooBar x_y].
func Words(s string) []string {
	var out []string
	words(s, func(w string) { out = append(out, w) })
	return out
}

// Walk calls fn with every word of s (see the package doc) that is at most
// MaxWordLen bytes long, in order, and its sub-tokens in their original
// case (lowercase them with strings.ToLower when needed). parts is reused
// between calls: fn must not keep it. Walk allocates nothing for ASCII
// text, which makes it the fast path for callers that hash tokens.
func Walk(s string, fn func(word string, parts []string)) {
	var ps []string
	words(s, func(w string) {
		if len(w) > MaxWordLen {
			return
		}
		ps = ps[:0]
		parts(w, func(p string) { ps = append(ps, p) })
		if len(ps) > 0 {
			fn(w, ps)
		}
	})
}

// ForIndex returns text for to_tsvector('simple', ...): every word of text,
// lowercased and without its underscores, followed by its sub-tokens when
// it has more than one, separated by single spaces. Punctuation is dropped,
// as are words longer than MaxWordLen. ForIndex("x := parseHTTPRequest(r)")
// is "x parsehttprequest parse http request r", so both "request" and
// "parsehttprequest" find it. Every term is made of letters and digits
// only, which the 'simple' parser keeps as one lexeme each.
func ForIndex(text string) string {
	var b strings.Builder
	b.Grow(len(text) + len(text)/2)
	var ps []string
	words(text, func(w string) {
		if len(w) > MaxWordLen {
			return
		}
		ps = ps[:0]
		parts(w, func(p string) { ps = append(ps, p) })
		if len(ps) == 0 {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		for _, p := range ps {
			writeLower(&b, p)
		}
		if len(ps) > 1 {
			for _, p := range ps {
				b.WriteByte(' ')
				writeLower(&b, p)
			}
		}
	})
	return b.String()
}

// ForQuery returns a tsquery for to_tsquery('simple', $1) matching text
// indexed with ForIndex: the AND (&) of the distinct sub-tokens of every
// word of q, so "parseHTTP request" is "parse & http & request" and
// "parsehttprequest" is "parsehttprequest". Terms are letters and digits
// only, so no input can inject tsquery syntax (& | ! ( ) : * ' \ < > are
// separators like any other punctuation). At most MaxQueryTerms terms are
// kept and words longer than MaxWordLen are dropped.
//
// ForQuery returns "" when q has no word. to_tsquery of an empty string is
// an empty query that matches nothing (with a NOTICE), so callers should
// test for "" and skip full-text search instead.
func ForQuery(q string) string {
	var b strings.Builder
	seen := make(map[string]struct{})
	words(q, func(w string) {
		if len(w) > MaxWordLen {
			return
		}
		parts(w, func(p string) {
			if len(seen) >= MaxQueryTerms {
				return
			}
			t := lower(p)
			if _, ok := seen[t]; ok {
				return
			}
			seen[t] = struct{}{}
			if b.Len() > 0 {
				b.WriteString(" & ")
			}
			b.WriteString(t)
		})
	})
	return b.String()
}

// asciiWord marks the ASCII bytes that belong to a word.
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	return t
}()

// isWordRune reports whether r belongs to a word.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiWord[r]
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// words calls fn with every word of s, in order.
func words(s string, fn func(string)) {
	start := -1
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf { // the ASCII fast path
			if asciiWord[c] {
				if start < 0 {
					start = i
				}
			} else if start >= 0 {
				fn(s[start:i])
				start = -1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			fn(s[start:i])
			start = -1
		}
		i += size
	}
	if start >= 0 {
		fn(s[start:])
	}
}

// Rune classes for case splitting.
const (
	classLower = iota // lowercase, caseless letters, marks
	classUpper
	classDigit
)

func class(r rune) int {
	if r < utf8.RuneSelf {
		switch {
		case 'A' <= r && r <= 'Z':
			return classUpper
		case '0' <= r && r <= '9':
			return classDigit
		}
		return classLower
	}
	switch {
	case unicode.IsUpper(r) || unicode.IsTitle(r):
		return classUpper
	case unicode.IsDigit(r):
		return classDigit
	}
	return classLower
}

// parts calls fn with the sub-tokens of word w (underscores and case
// changes, see the package doc), in their original case.
func parts(w string, fn func(string)) {
	for len(w) > 0 {
		i := strings.IndexByte(w, '_')
		seg := w
		if i >= 0 {
			seg, w = w[:i], w[i+1:]
		} else {
			w = ""
		}
		if seg != "" {
			caseParts(seg, fn)
		}
	}
}

// caseParts splits a word without underscores at its case changes.
func caseParts(s string, fn func(string)) {
	start := 0
	// prev and cur are the classes of the previous and current rune.
	prev := -1
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		cur := class(r)
		if i > start && cur == classUpper {
			switch prev {
			case classLower, classDigit:
				fn(s[start:i])
				start = i
			case classUpper:
				// HTTPServer: split before S, the start of a word, unless
				// the lowercase that follows is a plural "s" (IDs).
				j := i + size
				if j < len(s) {
					n, nsize := rune(s[j]), 1
					if n >= utf8.RuneSelf {
						n, nsize = utf8.DecodeRuneInString(s[j:])
					}
					if class(n) == classLower && !isPlural(s, j, n, nsize) {
						fn(s[start:i])
						start = i
					}
				}
			}
		}
		prev = cur
		i += size
	}
	if start < len(s) {
		fn(s[start:])
	}
}

// isPlural reports whether the rune n at s[j:j+size] is a lone "s" ending
// the word or followed by a capital or digit.
func isPlural(s string, j int, n rune, size int) bool {
	if n != 's' {
		return false
	}
	k := j + size
	if k == len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[k:])
	return class(r) != classLower
}

// lower lowercases p, without allocating when it is already lowercase ASCII.
func lower(p string) string {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return strings.ToLower(p)
		}
	}
	return p
}

// writeLower writes p lowercased to b.
func writeLower(b *strings.Builder, p string) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= utf8.RuneSelf {
			b.WriteString(strings.ToLower(p[i:]))
			return
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
}
