package chunk_test

import (
	"fmt"

	"github.com/quantumflow/quantumflow/internal/ingest/chunk"
)

func ExampleSplit() {
	src := `package p

import "fmt"

// Hello greets.
func Hello() {
	fmt.Println("hello")
}
`
	for _, c := range chunk.Split([]byte(src), []chunk.Span{{Name: "Hello", Kind: "function", StartLine: 6, EndLine: 8}}) {
		fmt.Printf("%d: lines %d-%d %q\n", c.Ord, c.StartLine, c.EndLine, c.Symbol)
	}
	// The header is small, so it is packed with Hello and its doc comment.

	// Output:
	// 0: lines 1-8 "Hello"
}
