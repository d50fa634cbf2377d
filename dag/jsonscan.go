package dag

import (
	"bytes"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxJSONNesting bounds the nesting of JSON arrays and objects, like
// encoding/json does, so that hostile input cannot exhaust the stack.
const maxJSONNesting = 10_000

// scanError is a JSON problem at a byte offset.
type scanError struct {
	pos       int
	msg       string
	dup       bool // a duplicate key
	notObject bool // a value that should be an object is not
}

// jsonScanner reads JSON from a byte slice. It validates strictly (RFC 8259,
// UTF-8, no duplicate keys) and writes values back either compact, keeping
// the document's key order and string escapes, or canonical, with object keys
// sorted and strings escaped minimally. Numbers are kept as written in both.
type jsonScanner struct {
	data    []byte
	pos     int
	depth   int
	members []member // stack of the members of the objects being read
	scratch []byte
}

func (s *jsonScanner) fail(msg string) *scanError { return &scanError{pos: s.pos, msg: msg} }

// skipSpace skips JSON whitespace.
func (s *jsonScanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *jsonScanner) peek() byte {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// atEnd reports whether only whitespace is left.
func (s *jsonScanner) atEnd() bool {
	s.skipSpace()
	return s.pos >= len(s.data)
}

// describe names the next token for an error message.
func (s *jsonScanner) describe() string {
	if s.atEnd() {
		return "end of input"
	}
	switch c := s.peek(); {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	default:
		r, _ := utf8.DecodeRune(s.data[s.pos:])
		return "the character " + strconv.QuoteRune(r)
	}
}

// expect consumes byte c after optional whitespace.
func (s *jsonScanner) expect(c byte, what string) *scanError {
	if s.peek() != c {
		return s.fail("expected " + what + ", found " + s.describe())
	}
	s.pos++
	return nil
}

// readString reads a string at s.pos (after whitespace), returning its
// decoded value and its raw bytes, quotes included.
func (s *jsonScanner) readString() (string, []byte, *scanError) {
	raw, plain, err := s.scanString()
	if err != nil {
		return "", nil, err
	}
	if plain {
		return string(raw[1 : len(raw)-1]), raw, nil
	}
	return unescape(raw), raw, nil
}

// decodedKey returns the decoded bytes of a string literal, without copying
// when it has no escapes.
func decodedKey(raw []byte, plain bool) []byte {
	if plain {
		return raw[1 : len(raw)-1]
	}
	return []byte(unescape(raw))
}

// scanString validates the string at s.pos (after whitespace) and returns
// its raw bytes, quotes included, and whether it has no escapes.
func (s *jsonScanner) scanString() ([]byte, bool, *scanError) {
	if s.peek() != '"' {
		return nil, false, s.fail("expected a string, found " + s.describe())
	}
	start := s.pos
	s.pos++
	plain := true
	for {
		if s.pos >= len(s.data) {
			return nil, false, s.fail("unterminated string")
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return s.data[start:s.pos], plain, nil
		case c == '\\':
			plain = false
			if s.pos+1 >= len(s.data) {
				return nil, false, s.fail("unterminated string")
			}
			switch s.data[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.data) || !isHex4(s.data[s.pos+2:s.pos+6]) {
					return nil, false, s.fail(`invalid \u escape in string`)
				}
				s.pos += 6
			default:
				return nil, false, s.fail("invalid escape " + strconv.Quote(string(s.data[s.pos:s.pos+2])) + " in string")
			}
		case c < 0x20:
			return nil, false, s.fail("control character " + strconv.QuoteRune(rune(c)) + " in string (escape it)")
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, s.fail("invalid UTF-8 in string")
			}
			s.pos += size
		}
	}
}

// readNumber reads a number and returns its text.
func (s *jsonScanner) readNumber() ([]byte, *scanError) {
	s.skipSpace()
	start := s.pos
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return nil, s.fail("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return nil, s.fail("invalid number: digits must follow '.'")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return nil, s.fail("invalid number: digits must follow the exponent")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return d[start:i], nil
}

// readLiteral reads true, false or null.
func (s *jsonScanner) readLiteral() ([]byte, *scanError) {
	s.skipSpace()
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
			s.pos += len(lit)
			return s.data[s.pos-len(lit) : s.pos], nil
		}
	}
	return nil, s.fail("invalid value: found " + s.describe())
}

// member is an object member written to the output: its decoded key and the
// output span of `"key":value`.
type member struct {
	key        []byte
	start, end int
}

// appendValue validates the value at s.pos and appends it to dst, compact or
// canonical.
func (s *jsonScanner) appendValue(dst []byte, canon bool) ([]byte, *scanError) {
	switch s.peek() {
	case '"':
		raw, plain, err := s.scanString()
		if err != nil {
			return dst, err
		}
		if canon {
			return appendCanonString(dst, decodedKey(raw, plain)), nil
		}
		return append(dst, raw...), nil
	case '{':
		return s.appendObject(dst, canon)
	case '[':
		if s.depth++; s.depth > maxJSONNesting {
			return dst, s.fail("JSON nested too deeply")
		}
		s.pos++
		dst = append(dst, '[')
		if s.peek() == ']' {
			s.pos++
			s.depth--
			return append(dst, ']'), nil
		}
		for {
			var err *scanError
			if dst, err = s.appendValue(dst, canon); err != nil {
				return dst, err
			}
			switch s.peek() {
			case ',':
				s.pos++
				dst = append(dst, ',')
			case ']':
				s.pos++
				s.depth--
				return append(dst, ']'), nil
			default:
				return dst, s.fail("expected ',' or ']' in array, found " + s.describe())
			}
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		num, err := s.readNumber()
		return append(dst, num...), err
	default:
		lit, err := s.readLiteral()
		return append(dst, lit...), err
	}
}

// appendObject is appendValue for an object.
func (s *jsonScanner) appendObject(dst []byte, canon bool) ([]byte, *scanError) {
	if s.depth++; s.depth > maxJSONNesting {
		return dst, s.fail("JSON nested too deeply")
	}
	s.pos++ // '{'
	open := len(dst)
	dst = append(dst, '{')
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return append(dst, '}'), nil
	}
	base := len(s.members)
	defer func() { s.members = s.members[:base] }()
	var seen map[string]struct{}
	for {
		keyPos := s.pos
		raw, plain, err := s.scanString()
		if err != nil {
			if s.pos == keyPos && s.peek() != '"' {
				err = s.fail("expected a quoted key in object, found " + s.describe())
			}
			return dst, err
		}
		key := decodedKey(raw, plain)
		if len(s.members) > base {
			dst = append(dst, ',')
		}
		start := len(dst)
		if canon {
			dst = appendCanonString(dst, key)
		} else {
			dst = append(dst, raw...)
		}
		if err := s.expect(':', "':' after object key"); err != nil {
			return dst, err
		}
		dst = append(dst, ':')
		if dst, err = s.appendValue(dst, canon); err != nil {
			return dst, err
		}
		s.members = append(s.members, member{key: key, start: start, end: len(dst)})
		if isDuplicate(s.members[base:], &seen) {
			return dst, &scanError{pos: keyPos, msg: "duplicate key " + strconv.Quote(truncate(string(key))), dup: true}
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			if canon {
				dst = s.sortMembers(dst, open, s.members[base:])
			}
			return append(dst, '}'), nil
		default:
			return dst, s.fail("expected ',' or '}' in object, found " + s.describe())
		}
	}
}

// isDuplicate reports whether the last member's key repeats an earlier one.
// Objects with more than a few keys are checked with a set, built lazily.
func isDuplicate(members []member, seen *map[string]struct{}) bool {
	const linear = 16
	last := members[len(members)-1].key
	if len(members) <= linear {
		for i := range len(members) - 1 {
			if bytes.Equal(members[i].key, last) {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*linear)
		for _, m := range members[:len(members)-1] {
			(*seen)[string(m.key)] = struct{}{}
		}
	}
	if _, ok := (*seen)[string(last)]; ok {
		return true
	}
	(*seen)[string(last)] = struct{}{}
	return false
}

// sortMembers rewrites the members of the object that starts at dst[open]
// in key order (by UTF-8 bytes, which is code point order).
func (s *jsonScanner) sortMembers(dst []byte, open int, members []member) []byte {
	cmp := func(a, b member) int { return bytes.Compare(a.key, b.key) }
	if slices.IsSortedFunc(members, cmp) {
		return dst
	}
	base := open + 1
	s.scratch = append(s.scratch[:0], dst[base:]...)
	body := s.scratch
	slices.SortFunc(members, cmp)
	dst = dst[:base]
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, body[m.start-base:m.end-base]...)
	}
	return dst
}
