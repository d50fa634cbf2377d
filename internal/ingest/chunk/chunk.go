// Package chunk cuts a file into the pieces search returns, aligned to its
// symbols: each top-level symbol is a chunk (split when long, packed with
// its neighbours when small), and the text between symbols forms chunks of
// its own, so the chunks cover the file.
//
// # Rules
//
//   - Each outermost span is a unit: a chunk of its own, or packed with
//     its small neighbours (below); never cut unless longer than MaxLines.
//     Nested spans (methods inside a
//     class) are covered by their outermost span. A span that overlaps the
//     one before it without nesting keeps only its lines after that span.
//     Spans are clamped to the file; empty ones are ignored.
//   - A symbol's doc comment joins its chunk: the contiguous non-blank lines
//     directly above the span's first line that start (after indentation)
//     with a comment or annotation marker — //, /*, *, #, --, ;, @ — so Go,
//     C, Rust (/// and #[attr]), Python (# and @decorator), SQL and Lua
//     comments, Java annotations and Elixir's @doc/@spec lines attach. An
//     Elixir heredoc (@doc """ … """) directly above attaches whole. Lines
//     that belong to the previous span never move.
//   - The lines between spans, and the whole file when there are no spans,
//     form chunks of up to MaxLines lines with Symbol "". Windows do not
//     overlap, so every line is in at most one chunk.
//   - Small units are packed: consecutive symbols and runs of text between
//     them that are each shorter than PackLines lines share one chunk, as
//     long as it stays within PackLines lines; a unit of PackLines lines or
//     more is a chunk of its own. A packed chunk carries the name and kind
//     of its first symbol (Symbol "" when it has none); the symbol table,
//     not the chunk, has every symbol's exact lines. Without packing, the
//     Go standard library (7 711 files, one span per top-level function,
//     type, const and var) gave 351 000 chunks, two thirds of them one or
//     two lines long; with PackLines 40 it gives 64 000 chunks: a fifth of
//     the rows, vectors and index entries (BenchmarkStdlib), and chunks
//     with enough text to embed.
//   - A chunk longer than MaxLines is cut into the fewest pieces of at most
//     MaxLines lines, of near-equal length (a 121-line function is 61 + 60,
//     not 120 + 1); the pieces keep the symbol's name and kind.
//   - Blank lines at the start and end of a chunk are dropped, and a chunk
//     of blank lines only is not emitted: the chunks cover every non-blank
//     line exactly once, in file order, and blank lines between chunks
//     belong to none.
package chunk

import (
	"bytes"
	"crypto/sha256"
	"sort"
)

// Span is a symbol's line range, 1-based and inclusive.
type Span struct {
	Name, Kind         string
	StartLine, EndLine int
}

// Chunk is one piece of a file.
type Chunk struct {
	Ord                int // 0, 1, ... in file order
	StartLine, EndLine int
	Symbol, Kind       string // of the symbol it is aligned to; "" for text between symbols
	Content            string
	Hash               [32]byte // SHA-256 of Content
}

// MaxLines is the longest chunk: a longer symbol or text run is cut into
// pieces.
const MaxLines = 120

// PackLines is the longest chunk that several small units (symbols, text
// between symbols) are packed into; a unit of PackLines lines or more is a
// chunk of its own.
const PackLines = 40

// maxDocLines bounds how far above a span the doc comment search goes.
const maxDocLines = 200

// Split cuts content into chunks aligned to spans (in any order; nested
// spans are covered by their outermost one), by the rules of the package
// doc. Content is the lines
// StartLine..EndLine of the file joined by their original line endings,
// without the last line's newline. A file without non-blank lines gives no
// chunk. Split does not modify spans.
func Split(content []byte, spans []Span) []Chunk { return split(content, spans, PackLines) }

// split is Split with units shorter than pack lines packed together.
func split(content []byte, spans []Span, pack int) []Chunk {
	f := newFile(content)
	if f.n() == 0 {
		return nil
	}
	// The units: symbols and the text between them, trimmed of blank lines.
	var units []Span
	add := func(start, end int, name, kind string) {
		start, end = f.trim(start, end)
		if start <= end {
			units = append(units, Span{Name: name, Kind: kind, StartLine: start, EndLine: end})
		}
	}
	pos := 1
	for _, r := range f.outermost(spans) {
		add(pos, r.StartLine-1, "", "")
		add(r.StartLine, r.EndLine, r.Name, r.Kind)
		pos = r.EndLine + 1
	}
	add(pos, f.n(), "", "")

	var out []Chunk
	for i := 0; i < len(units); {
		u := units[i]
		j := i + 1
		if spanLines(u) < pack {
			for j < len(units) && spanLines(units[j]) < pack && units[j].EndLine-u.StartLine+1 <= pack {
				j++
			}
		}
		name, kind := "", ""
		for _, v := range units[i:j] {
			if v.Name != "" || v.Kind != "" {
				name, kind = v.Name, v.Kind
				break
			}
		}
		f.emit(&out, u.StartLine, units[j-1].EndLine, name, kind)
		i = j
	}
	return out
}

func spanLines(s Span) int { return s.EndLine - s.StartLine + 1 }

// file is content cut into lines.
type file struct {
	content []byte
	starts  []int // byte offset of each line; line l starts at starts[l-1]
	ends    []int // byte offset just past each line's text, before '\n'
}

func newFile(content []byte) *file {
	f := &file{content: content}
	for off := 0; off < len(content); {
		i := bytes.IndexByte(content[off:], '\n')
		f.starts = append(f.starts, off)
		if i < 0 {
			f.ends = append(f.ends, len(content))
			break
		}
		f.ends = append(f.ends, off+i)
		off += i + 1
	}
	return f
}

func (f *file) n() int { return len(f.starts) }

func (f *file) line(l int) []byte { return f.content[f.starts[l-1]:f.ends[l-1]] }

func (f *file) blank(l int) bool { return len(bytes.TrimSpace(f.line(l))) == 0 }

// outermost returns the disjoint, ordered spans that become chunks, with
// their doc comments attached.
func (f *file) outermost(spans []Span) []Span {
	s := make([]Span, 0, len(spans))
	for _, sp := range spans {
		sp.StartLine = max(sp.StartLine, 1)
		sp.EndLine = min(sp.EndLine, f.n())
		if sp.StartLine <= sp.EndLine {
			s = append(s, sp)
		}
	}
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].StartLine != s[j].StartLine {
			return s[i].StartLine < s[j].StartLine
		}
		return s[i].EndLine > s[j].EndLine
	})
	out := s[:0]
	prevEnd := 0
	for _, sp := range s {
		if sp.EndLine <= prevEnd {
			continue // nested in (or equal to) the previous span
		}
		sp.StartLine = max(sp.StartLine, prevEnd+1)
		sp.StartLine = f.docStart(sp.StartLine, prevEnd)
		out = append(out, sp)
		prevEnd = sp.EndLine
	}
	return out
}

// docStart returns the first line of the doc comment directly above line
// start, or start when there is none; it never goes to floor or above.
func (f *file) docStart(start, floor int) int {
	limit := max(floor, start-1-maxDocLines)
	for l := start - 1; l > limit; l-- {
		t := bytes.TrimSpace(f.line(l))
		if len(t) == 0 {
			break
		}
		if isDocLine(t) {
			start = l
			continue
		}
		if bytes.Equal(t, []byte(`"""`)) {
			if m := f.heredocStart(l, limit); m > 0 {
				start, l = m, m
				continue
			}
		}
		break
	}
	return start
}

// heredocStart finds the @attr """ line opening the heredoc that closes at
// line end, or returns 0.
func (f *file) heredocStart(end, limit int) int {
	for l := end - 1; l > limit; l-- {
		t := bytes.TrimSpace(f.line(l))
		if bytes.HasPrefix(t, []byte("@")) && bytes.HasSuffix(t, []byte(`"""`)) {
			return l
		}
		if bytes.Contains(t, []byte(`"""`)) {
			return 0
		}
	}
	return 0
}

// docMarkers start the lines that attach to the symbol below them.
var docMarkers = [][]byte{[]byte("//"), []byte("/*"), []byte("*"), []byte("#"), []byte("--"), []byte(";"), []byte("@")}

func isDocLine(t []byte) bool {
	for _, m := range docMarkers {
		if bytes.HasPrefix(t, m) {
			return true
		}
	}
	return false
}

// emit appends the chunks of lines start..end (either may be out of range
// when the range is empty), trimmed of blank lines and cut at MaxLines.
func (f *file) emit(out *[]Chunk, start, end int, name, kind string) {
	start, end = f.trim(start, end)
	if start > end {
		return
	}
	total := end - start + 1
	pieces := (total + MaxLines - 1) / MaxLines
	base, extra := total/pieces, total%pieces
	for i := 0; i < pieces; i++ {
		size := base
		if i < extra {
			size++
		}
		s, e := f.trim(start, start+size-1)
		start += size
		if s > e {
			continue
		}
		content := string(f.content[f.starts[s-1]:f.ends[e-1]])
		*out = append(*out, Chunk{
			Ord:       len(*out),
			StartLine: s,
			EndLine:   e,
			Symbol:    name,
			Kind:      kind,
			Content:   content,
			Hash:      sha256.Sum256([]byte(content)),
		})
	}
}

// trim drops blank lines from both ends of start..end.
func (f *file) trim(start, end int) (int, int) {
	for start <= end && f.blank(start) {
		start++
	}
	for end >= start && f.blank(end) {
		end--
	}
	return start, end
}
