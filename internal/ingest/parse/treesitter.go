//go:build cgo

package parse

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	sitter "github.com/smacker/go-tree-sitter"
	"github.com/smacker/go-tree-sitter/elixir"
	"github.com/smacker/go-tree-sitter/javascript"
	"github.com/smacker/go-tree-sitter/python"
	"github.com/smacker/go-tree-sitter/rust"
	"github.com/smacker/go-tree-sitter/typescript/tsx"
	"github.com/smacker/go-tree-sitter/typescript/typescript"

	"github.com/quantumflow/quantumflow/internal/ingest/lang"
)

// tsGrammar is one tree-sitter language with the extractor that walks its
// trees. Parsers are not safe for concurrent use, so each grammar keeps a
// pool of them.
type tsGrammar struct {
	language *sitter.Language
	extract  func(f *tsFile, root *sitter.Node)
	// pattern is the tree-sitter query whose matches the extractor reads
	// (imports and refs): a query runs in C and crosses into Go only per
	// match, several times cheaper than walking every node through cgo.
	pattern string
	parsers sync.Pool

	once  sync.Once
	query *sitter.Query // immutable once compiled: safe to share
	names []string      // capture names by index
}

var tsGrammars = map[string]*tsGrammar{
	lang.Python:     {language: python.GetLanguage(), extract: extractPython, pattern: pythonQuery},
	lang.JavaScript: {language: javascript.GetLanguage(), extract: extractJS, pattern: jsQuery},
	lang.TypeScript: {language: typescript.GetLanguage(), extract: extractJS, pattern: jsQuery},
	lang.TSX:        {language: tsx.GetLanguage(), extract: extractJS, pattern: jsQuery},
	lang.Rust:       {language: rust.GetLanguage(), extract: extractRust, pattern: rustQuery},
	lang.Elixir:     {language: elixir.GetLanguage(), extract: extractElixir, pattern: elixirQuery},
}

// parseTimeoutMicros bounds one tree-sitter parse (tree-sitter's
// timeout, in microseconds of wall time): a pathological input gives an
// outline with Errors 1 rather than a stuck step. Real files take
// milliseconds.
const parseTimeoutMicros = 10_000_000

func treeSitterSupported(language string) bool {
	_, ok := tsGrammars[language]
	return ok
}

func (g *tsGrammar) parse(content []byte) *sitter.Tree {
	p, _ := g.parsers.Get().(*sitter.Parser)
	if p == nil {
		p = sitter.NewParser()
		p.SetLanguage(g.language)
		p.SetOperationLimit(parseTimeoutMicros)
	}
	defer g.parsers.Put(p)
	tree, err := p.ParseCtx(context.Background(), nil, content)
	if err != nil {
		p.Reset()
		return nil
	}
	return tree
}

// parseTreeSitter parses content with the language's grammar and runs its
// extractor; language must be in tsGrammars.
func parseTreeSitter(language string, content []byte) *Outline {
	g := tsGrammars[language]
	o := &Outline{Language: language}
	tree := g.parse(content)
	if tree == nil {
		o.Errors = 1
		return o
	}
	defer tree.Close()
	root := tree.RootNode()
	f := &tsFile{g: g, src: content, o: o, refs: map[[2]string]int{}}
	o.Errors = countErrors(root)
	g.extract(f, root)
	if f.bound != nil {
		for k := range f.refs {
			if !f.bound[k[0]] {
				delete(f.refs, k)
			}
		}
	}
	o.Refs = sortedRefs(f.refs)
	sort.SliceStable(o.Imports, func(i, j int) bool { return o.Imports[i].Line < o.Imports[j].Line })
	return o
}

// compiled is the grammar's query, compiled on first use. A pattern that
// does not compile is a bug in this package, caught by every test.
func (g *tsGrammar) compiled() *sitter.Query {
	g.once.Do(func() {
		q, err := sitter.NewQuery([]byte(g.pattern), g.language)
		if err != nil {
			panic(fmt.Sprintf("parse: tree-sitter query: %v", err))
		}
		g.query = q
		for i := uint32(0); i < q.CaptureCount(); i++ {
			g.names = append(g.names, q.CaptureNameForId(i))
		}
	})
	return g.query
}

// tsMatch is one query match: the captured nodes by capture name.
type tsMatch map[string]*sitter.Node

// matches calls fn with each match of the grammar's query under root, in
// document order.
func (f *tsFile) matches(root *sitter.Node, fn func(m tsMatch)) {
	q := f.g.compiled()
	qc := sitter.NewQueryCursor()
	defer qc.Close()
	qc.Exec(q, root)
	for {
		m, ok := qc.NextMatch()
		if !ok {
			return
		}
		tm := make(tsMatch, len(m.Captures))
		for _, c := range m.Captures {
			tm[f.g.names[c.Index]] = c.Node
		}
		fn(tm)
	}
}

// tsFile is the state of one extraction.
type tsFile struct {
	g    *tsGrammar
	src  []byte
	o    *Outline
	refs map[[2]string]int
	// bound, when not nil, is the set of names the file's imports bind;
	// refs whose qualifier is not one of them are dropped at the end.
	bound map[string]bool
}

func (f *tsFile) text(n *sitter.Node) string {
	if n == nil {
		return ""
	}
	s, e := n.StartByte(), n.EndByte()
	if e > uint32(len(f.src)) || s > e {
		return ""
	}
	return string(f.src[s:e])
}

func (f *tsFile) field(n *sitter.Node, name string) string {
	return f.text(n.ChildByFieldName(name))
}

// decl adds a Decl spanning n whose signature ends at sigEnd (the start of
// the body; n's end when 0).
func (f *tsFile) decl(kind, name, parent string, n *sitter.Node, sigEnd uint32, doc string) *Decl {
	if name == "" {
		return nil
	}
	if sigEnd == 0 || sigEnd < n.StartByte() || sigEnd > n.EndByte() {
		sigEnd = n.EndByte()
	}
	f.o.Decls = append(f.o.Decls, Decl{
		Kind:       kind,
		Name:       name,
		Parent:     parent,
		StartLine:  int(n.StartPoint().Row) + 1,
		EndLine:    endLine(n),
		StartByte:  int(n.StartByte()),
		EndByte:    int(n.EndByte()),
		SigEndByte: int(sigEnd),
		Doc:        doc,
	})
	return &f.o.Decls[len(f.o.Decls)-1]
}

func (f *tsFile) imp(path, alias string, n *sitter.Node) {
	if path == "" {
		return
	}
	f.o.Imports = append(f.o.Imports, Import{Path: path, Alias: alias, Line: int(n.StartPoint().Row) + 1})
}

func (f *tsFile) bind(name string) {
	if name == "" {
		return
	}
	if f.bound == nil {
		f.bound = map[string]bool{}
	}
	f.bound[name] = true
}

func (f *tsFile) ref(qualifier, name string) {
	if qualifier != "" && name != "" {
		f.refs[[2]string{qualifier, name}]++
	}
}

// endLine is the 1-based line of n's last byte: a node that ends at
// column 0 ends on the line before.
func endLine(n *sitter.Node) int {
	p := n.EndPoint()
	if p.Column == 0 && p.Row > n.StartPoint().Row {
		return int(p.Row)
	}
	return int(p.Row) + 1
}

// bodyStart is the start of n's field (its body), or 0 when n has none.
func bodyStart(n *sitter.Node, field string) uint32 {
	if b := n.ChildByFieldName(field); b != nil {
		return b.StartByte()
	}
	return 0
}

// countErrors counts ERROR and MISSING nodes, descending only into
// subtrees that have one.
func countErrors(n *sitter.Node) int {
	if n.IsError() || n.IsMissing() {
		return 1
	}
	if !n.HasError() {
		return 0
	}
	count := 0
	for i := 0; i < int(n.ChildCount()); i++ {
		if c := n.Child(i); c != nil {
			count += countErrors(c)
		}
	}
	return count
}

// namedChildren returns n's named children, with a cursor.
func namedChildren(n *sitter.Node) []*sitter.Node {
	if n == nil {
		return nil
	}
	c := sitter.NewTreeCursor(n)
	defer c.Close()
	var out []*sitter.Node
	if c.GoToFirstChild() {
		for {
			if k := c.CurrentNode(); k.IsNamed() {
				out = append(out, k)
			}
			if !c.GoToNextSibling() {
				break
			}
		}
	}
	return out
}

// blockChildren is namedChildren with each ERROR node replaced by its own
// block children: what tree-sitter recovered inside a syntax error is
// still extracted.
func blockChildren(n *sitter.Node) []*sitter.Node {
	kids := namedChildren(n)
	for i := 0; i < len(kids); i++ {
		if kids[i].IsError() {
			inner := namedChildren(kids[i])
			kids = append(kids[:i], append(inner, kids[i+1:]...)...)
			i--
		}
	}
	return kids
}

// unquote strips a string literal's quotes (and Python's prefixes).
func unquote(s string) string {
	s = strings.TrimLeft(s, "rRbBuUfF")
	for _, q := range []string{`"""`, `'''`, `"`, `'`, "`"} {
		if len(s) >= 2*len(q) && strings.HasPrefix(s, q) && strings.HasSuffix(s, q) {
			return s[len(q) : len(s)-len(q)]
		}
	}
	return s
}

// dedent removes the common leading white space of s's lines after the
// first (as Python's inspect.cleandoc does) and trims s.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	indent := -1
	for _, l := range lines[1:] {
		t := strings.TrimLeft(l, " \t")
		if t == "" {
			continue
		}
		if n := len(l) - len(t); indent < 0 || n < indent {
			indent = n
		}
	}
	for i := 1; i < len(lines) && indent > 0; i++ {
		if len(lines[i]) >= indent {
			lines[i] = lines[i][indent:]
		} else {
			lines[i] = strings.TrimLeft(lines[i], " \t")
		}
	}
	lines[0] = strings.TrimSpace(lines[0])
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
