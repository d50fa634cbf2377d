package dag

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// appendCanonString appends s as a JSON string with minimal escaping:
// '"', '\\' and control characters only.
func appendCanonString[T string | []byte](dst []byte, s T) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonObject validates raw as one JSON object and returns it compact, in a
// new slice. When canon is not nil, it also appends the canonical form to
// canon and returns it.
func jsonObject(raw, canon []byte) (compact, canonical []byte, err *scanError) {
	var s jsonScanner
	return s.object(raw, canon)
}

// object is jsonObject reusing the scanner's buffers.
func (s *jsonScanner) object(raw, canon []byte) (compact, canonical []byte, err *scanError) {
	s.data, s.pos, s.depth, s.members = raw, 0, 0, s.members[:0]
	if s.peek() != '{' {
		if s.pos >= len(raw) {
			return nil, nil, &scanError{msg: "is empty"}
		}
		return nil, nil, &scanError{msg: "must be a JSON object, found " + s.describe(), notObject: true}
	}
	compact, err = s.appendObject(make([]byte, 0, len(raw)), false)
	if err != nil {
		return nil, nil, err
	}
	if !s.atEnd() {
		return nil, nil, s.fail("unexpected " + s.describe() + " after the object")
	}
	if canon == nil {
		return compact, nil, nil
	}
	if bytes.IndexByte(compact, '\\') < 0 && isSortedCompact(compact) {
		return compact, append(canon, compact...), nil
	}
	s.data, s.pos = compact, 0
	canonical, err = s.appendObject(canon, true)
	return compact, canonical, err
}

// isSortedCompact is a cheap check for the common case of a flat object
// whose keys are already in order; false means "maybe not".
func isSortedCompact(b []byte) bool {
	var prev []byte
	havePrev := false
	depth := 0
	inStr := false
	keyStart := -1
	expectKey := true
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			if c == '"' {
				inStr = false
				if keyStart >= 0 {
					key := b[keyStart:i]
					if havePrev && bytes.Compare(key, prev) <= 0 {
						return false
					}
					prev, havePrev = key, true
					keyStart = -1
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
			if depth == 1 && expectKey {
				keyStart = i + 1
				expectKey = false
			}
		case '{', '[':
			depth++
			if depth > 1 {
				return false
			}
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				expectKey = true
			}
		}
	}
	return true
}

// isHex4 reports whether b holds only hex digits.
func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// unescape decodes a validated string literal, quotes included. Lone
// surrogates become U+FFFD, like encoding/json.
func unescape(raw []byte) string {
	raw = raw[1 : len(raw)-1]
	var sb strings.Builder
	sb.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			sb.WriteByte(c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r := hex4(raw[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hex4(raw[i+2:i+6])); r2 != utf8.RuneError {
						sb.WriteRune(r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			sb.WriteRune(r)
			continue
		default: // '"', '\\', '/'
			sb.WriteByte(raw[i+1])
		}
		i += 2
	}
	return sb.String()
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}
