package ingest

import (
	"errors"
	"strings"
	"unicode"

	"github.com/bmatcuk/doublestar/v4"
)

// globRegex translates a doublestar glob into a POSIX regular expression
// (PostgreSQL's ~) that matches every path the glob matches, so --path is
// applied in SQL. The regex is exact for *, **, ? and {a,b}; a [class]
// becomes "any character but /", a superset, and results() checks every
// path against the glob itself (globMatch), so the answer is the glob's.
// Every literal character but letters, digits and / is escaped, so no
// pattern gives an invalid or surprising regex.
func globRegex(glob string) (string, error) {
	if !doublestar.ValidatePattern(glob) {
		return "", errors.New("not a valid glob (unclosed [ or {, or a trailing \\)")
	}
	var b strings.Builder
	b.WriteString("^")
	depth := 0 // inside {...}
	rs := []rune(glob)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '*' && i+1 < len(rs) && rs[i+1] == '*':
			i++
			atStart := i == 1 || rs[i-2] == '/'
			switch {
			case atStart && i+1 < len(rs) && rs[i+1] == '/':
				i++ // "**/": zero or more directories
				b.WriteString("(.*/)?")
			case i+1 == len(rs) && i >= 2 && rs[i-2] == '/':
				// "/**" at the end: the directory itself or anything below;
				// the / was already written, make it optional.
				s := b.String()
				b.Reset()
				b.WriteString(strings.TrimSuffix(s, "/"))
				b.WriteString("(/.*)?")
			default:
				b.WriteString(".*")
			}
		case r == '*':
			b.WriteString("[^/]*")
		case r == '?':
			b.WriteString("[^/]")
		case r == '[':
			for i < len(rs) && rs[i] != ']' {
				if rs[i] == '\\' {
					i++
				}
				i++
			}
			b.WriteString("[^/]")
		case r == '{':
			depth++
			b.WriteString("(")
		case r == '}' && depth > 0:
			depth--
			b.WriteString(")")
		case r == ',' && depth > 0:
			b.WriteString("|")
		case r == '\\' && i+1 < len(rs):
			i++
			writeLiteral(&b, rs[i])
		default:
			writeLiteral(&b, r)
		}
	}
	b.WriteString("$")
	return b.String(), nil
}

func writeLiteral(b *strings.Builder, r rune) {
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '/' {
		b.WriteByte('\\')
	}
	b.WriteRune(r)
}

// globMatch reports whether path matches the (valid) glob.
func globMatch(glob, path string) bool {
	ok, err := doublestar.Match(glob, path)
	return err == nil && ok
}
