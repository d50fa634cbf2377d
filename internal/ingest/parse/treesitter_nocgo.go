//go:build !cgo

package parse

// Without cgo there is no tree-sitter: only Go is parsed.

func treeSitterSupported(string) bool { return false }

func parseTreeSitter(language string, content []byte) *Outline {
	return &Outline{Language: language}
}
