package dag

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field rules. The kind limit is River's (river_job.kind is shorter than 128
// characters), as is the queue rule (client.go validateQueueName).
const (
	maxNameLen     = 128
	maxIDLen       = 64
	maxKeyLen      = 256
	maxKindLen     = 127
	maxQueueLen    = 64
	maxMaxAttempts = 1<<15 - 1 // River's attempt columns are smallint.
)

// Resolved defaults.
const (
	defaultQueue       = "default"
	defaultPriority    = 3
	defaultMaxAttempts = 3
	policyCancel       = "cancel"
	policySkip         = "skip"
	policyRun          = "run"
)

// byteClass reports whether a byte belongs to a character set.
type byteClass [256]bool

func newByteClass(extra string) *byteClass {
	var c byteClass
	for b := 'a'; b <= 'z'; b++ {
		c[b] = true
	}
	for b := 'A'; b <= 'Z'; b++ {
		c[b] = true
	}
	for b := '0'; b <= '9'; b++ {
		c[b] = true
	}
	for i := range len(extra) {
		c[extra[i]] = true
	}
	return &c
}

var (
	nameChars = newByteClass("_.-")
	idChars   = newByteClass("_-")
	kindChars = newByteClass("_.:-")
)

// firstBad returns the index of the first byte of s outside c, or -1.
func (c *byteClass) firstBad(s string) int {
	for i := range len(s) {
		if !c[s[i]] {
			return i
		}
	}
	return -1
}

// checkChars returns "" when s is 1..max bytes of c, else what is wrong.
func checkChars(s string, c *byteClass, max int, rule string) string {
	switch {
	case s == "":
		return "is required (" + rule + ")"
	case len(s) > max:
		return strconv.Quote(truncate(s)) + " is longer than " + strconv.Itoa(max) + " characters"
	}
	if i := c.firstBad(s); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return strconv.Quote(truncate(s)) + " has the character " + strconv.QuoteRune(r) + " (" + rule + ")"
	}
	return ""
}

// checkName checks a workflow name.
func checkName(s string) string {
	return checkChars(s, nameChars, maxNameLen, "letters, digits, '_', '.' and '-', at most 128")
}

// validID reports whether s is a valid node id.
func validID(s string) bool {
	return s != "" && len(s) <= maxIDLen && idChars.firstBad(s) < 0
}

// checkID checks a node id.
func checkID(s string) string {
	return checkChars(s, idChars, maxIDLen, "letters, digits, '_' and '-', at most 64")
}

// checkKind checks a job kind's syntax.
func checkKind(s string) string {
	return checkChars(s, kindChars, maxKindLen, "letters, digits, '_', '.', ':' and '-', at most 127")
}

// checkKey checks an idempotency key: 1 to 256 printable characters.
func checkKey(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	n := 0
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "has the unprintable character " + strconv.QuoteRune(r) + " (1 to 256 printable characters)"
		}
		n++
	}
	if n > maxKeyLen {
		return "is longer than 256 characters"
	}
	return ""
}

// checkQueue checks a queue name against River's rule, which is the regular
// expression `^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$` and at most 64
// characters: runs of lowercase letters and digits separated by single
// separators. The '|' in River's character class is literal, so River also
// takes '|' as a separator, and so do we.
func checkQueue(s string) string {
	const rule = "lowercase letters and digits, separated by single '_' or '-', at most 64"
	switch {
	case s == "":
		return "is empty (" + rule + ")"
	case len(s) > maxQueueLen:
		return strconv.Quote(truncate(s)) + " is longer than 64 characters"
	}
	prevSep := true // A name may not start with a separator.
	for i := range len(s) {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z' || b >= '0' && b <= '9':
			prevSep = false
		case b == '_' || b == '-' || b == '|':
			if prevSep {
				return strconv.Quote(s) + " is not a valid queue name (" + rule + ")"
			}
			prevSep = true
		default:
			return strconv.Quote(s) + " is not a valid queue name (" + rule + ")"
		}
	}
	if prevSep {
		return strconv.Quote(s) + " is not a valid queue name (" + rule + ")"
	}
	return ""
}

// priorityValue maps a priority name to River's priority; 0 when unknown.
func priorityValue(s string) int {
	switch s {
	case "realtime":
		return 1
	case "high":
		return 2
	case "normal":
		return 3
	case "bulk":
		return 4
	}
	return 0
}

// validPolicy reports whether an on_dep_failure value is valid; "" means
// the default.
func validPolicy(s string) bool {
	return s == "" || s == policyCancel || s == policySkip || s == policyRun
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// suggest returns ` (did you mean "x"?)` when name is close to one of known.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return " (did you mean " + strconv.Quote(k) + "?)"
		}
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return " (known fields: " + strings.Join(known, ", ") + ")"
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
