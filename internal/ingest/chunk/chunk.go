// Package chunk cuts a file into the pieces search returns, aligned to its
// symbols: each top-level symbol is a chunk (split when long), and the text
// between symbols forms chunks of its own, so the chunks cover the file.
package chunk

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

// MaxLines is the longest chunk.
const MaxLines = 120

// Split cuts content into chunks aligned to spans (in any order; nested
// spans are covered by their outermost one).
func Split(content []byte, spans []Span) []Chunk { return nil }
