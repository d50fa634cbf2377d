package ingest

import (
	"strings"
	"unicode"
)

// Snippet shape: up to snippetBefore lines before the best line and
// snippetAfter after it, each cut to snippetWidth bytes.
const (
	snippetBefore = 1
	snippetAfter  = 3
	snippetWidth  = 200
)

// snippetTerms returns the folded words of a query (its letters and digits
// only) that bestLine looks for.
func snippetTerms(q string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if w = strings.ToLower(w); len(w) >= 2 {
			out = append(out, w)
		}
	}
	return out
}

// bestLine returns the line of content (whose first line is line start)
// that matches the query best: the first containing the whole query, case
// folded; else the one containing the most of its words; else the first
// line that is not blank.
func bestLine(content string, start int, query string, terms []string) int {
	lines := strings.Split(content, "\n")
	q := strings.ToLower(strings.TrimSpace(query))
	if q != "" {
		for i, l := range lines {
			if strings.Contains(strings.ToLower(l), q) {
				return start + i
			}
		}
	}
	best, bestN := -1, 0
	for i, l := range lines {
		low := strings.ToLower(l)
		n := 0
		for _, t := range terms {
			if strings.Contains(low, t) {
				n++
			}
		}
		if n > bestN {
			best, bestN = i, n
		}
	}
	if best >= 0 {
		return start + best
	}
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			return start + i
		}
	}
	return start
}

// snippet returns the lines of content (whose first line is line start)
// around line best, tabs kept, long lines cut.
func snippet(content string, start, best int) string {
	lines := strings.Split(strings.TrimRight(content, "\n"), "\n")
	i := best - start
	if i < 0 || i >= len(lines) {
		i = 0
	}
	from, to := max(i-snippetBefore, 0), min(i+snippetAfter+1, len(lines))
	// Leading blank lines say nothing.
	for from < i && strings.TrimSpace(lines[from]) == "" {
		from++
	}
	out := make([]string, 0, to-from)
	for _, l := range lines[from:to] {
		l = strings.TrimRight(l, " \t\r")
		if len(l) > snippetWidth {
			cut := snippetWidth
			for cut > 0 && !isRuneStart(l[cut]) {
				cut--
			}
			l = l[:cut] + "…"
		}
		out = append(out, l)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n")
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
