package parse

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/quantumflow/quantumflow/internal/ingest/lang"
)

// parseGo parses Go with go/parser. Decls are the package-level
// declarations: functions, methods (Parent the receiver's type name, with
// no "*" and no type parameters), types (kind struct, interface or type),
// consts and vars, one Decl per name. A func's signature ends where its
// body's "{" starts; a struct's or interface's where its "{" starts; any
// other spec's at its end. A declaration that is alone in its
// "type"/"const"/"var" starts at that keyword (so the signature reads
// "type T struct"); one in a group starts at its spec.
//
// Refs are selector expressions X.Sel whose X is the local name of one of
// the file's imports (its alias, or ImportName of its path): the uses that
// can resolve to another package. Field and method accesses on local
// values are not refs.
func parseGo(content []byte) *Outline {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", content, parser.ParseComments|parser.SkipObjectResolution|parser.AllErrors)
	o := &Outline{Language: lang.Go}
	if list, ok := err.(scanner.ErrorList); ok {
		o.Errors = len(list)
	} else if err != nil {
		o.Errors = 1
	}
	if f == nil {
		return o
	}
	tf := fset.File(f.Pos())
	if tf == nil {
		return o
	}
	g := goOutline{o: o, tf: tf}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			g.funcDecl(d)
		case *ast.GenDecl:
			g.genDecl(d)
		}
	}
	names := map[string]bool{}
	for _, imp := range f.Imports {
		if imp.Path == nil {
			continue
		}
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil || p == "" {
			continue
		}
		im := Import{Path: p, Line: line(tf, imp.Path.Pos())}
		name := ImportName(p)
		if imp.Name != nil {
			im.Alias = imp.Name.Name
			name = imp.Name.Name
		}
		names[name] = true
		o.Imports = append(o.Imports, im)
	}
	o.Refs = goRefs(f, names)
	return o
}

// line is the line of p in the content as given: //line directives, which
// Position honours, do not move it.
func line(tf *token.File, p token.Pos) int {
	return tf.PositionFor(p, false).Line
}

type goOutline struct {
	o  *Outline
	tf *token.File
}

func (g *goOutline) add(kind, name, parent string, start, end, sigEnd token.Pos, doc *ast.CommentGroup) {
	if name == "" || name == "_" {
		return
	}
	d := Decl{
		Kind:       kind,
		Name:       name,
		Parent:     parent,
		StartLine:  line(g.tf, start),
		EndLine:    line(g.tf, end),
		StartByte:  g.tf.Offset(start),
		EndByte:    g.tf.Offset(end),
		SigEndByte: g.tf.Offset(sigEnd),
	}
	if d.SigEndByte < d.StartByte {
		d.SigEndByte = d.StartByte
	}
	if doc != nil {
		d.Doc = doc.Text()
	}
	g.o.Decls = append(g.o.Decls, d)
}

func (g *goOutline) funcDecl(d *ast.FuncDecl) {
	if d.Name == nil {
		return
	}
	kind, parent := "function", ""
	if d.Recv != nil && len(d.Recv.List) > 0 {
		kind, parent = "method", receiverName(d.Recv.List[0].Type)
	}
	sigEnd := d.End()
	if d.Body != nil && d.Body.Lbrace.IsValid() {
		sigEnd = d.Body.Lbrace
	}
	g.add(kind, d.Name.Name, parent, d.Pos(), d.End(), sigEnd, d.Doc)
}

// receiverName is the type name of a method receiver: T for T, *T, T[K],
// *T[K, V].
func receiverName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

func (g *goOutline) genDecl(d *ast.GenDecl) {
	grouped := d.Lparen.IsValid()
	for _, spec := range d.Specs {
		start, doc := spec.Pos(), specDoc(spec)
		if !grouped {
			start = d.Pos()
			if doc == nil {
				doc = d.Doc
			}
		}
		switch s := spec.(type) {
		case *ast.TypeSpec:
			if s.Name == nil {
				continue
			}
			kind, sigEnd := "type", s.End()
			switch t := s.Type.(type) {
			case *ast.StructType:
				kind = "struct"
				if t.Fields != nil && t.Fields.Opening.IsValid() {
					sigEnd = t.Fields.Opening
				}
			case *ast.InterfaceType:
				kind = "interface"
				if t.Methods != nil && t.Methods.Opening.IsValid() {
					sigEnd = t.Methods.Opening
				}
			}
			g.add(kind, s.Name.Name, "", start, s.End(), sigEnd, doc)
		case *ast.ValueSpec:
			kind := "var"
			if d.Tok == token.CONST {
				kind = "const"
			}
			for _, n := range s.Names {
				g.add(kind, n.Name, "", start, s.End(), s.End(), doc)
			}
		}
	}
}

func specDoc(spec ast.Spec) *ast.CommentGroup {
	switch s := spec.(type) {
	case *ast.TypeSpec:
		return s.Doc
	case *ast.ValueSpec:
		return s.Doc
	}
	return nil
}

// ImportName guesses the package name an import path binds when the
// import has no alias: its last element without a major-version suffix
// ("math/rand/v2" → "rand", "gopkg.in/yaml.v3" → "yaml") and without a
// "go-" prefix or "-go" suffix ("github.com/mattn/go-sqlite3" →
// "sqlite3"), which is what goimports assumes too. A package whose name
// differs from its path in another way is not recognised.
func ImportName(importPath string) string {
	base := path.Base(importPath)
	if len(base) >= 2 && base[0] == 'v' && isDigits(base[1:]) {
		if dir := path.Dir(importPath); dir != "." {
			base = path.Base(dir)
		}
	}
	if i := strings.Index(base, ".v"); i > 0 && isDigits(base[i+2:]) {
		base = base[:i]
	}
	base = strings.TrimPrefix(base, "go-")
	base = strings.TrimSuffix(base, "-go")
	return strings.ReplaceAll(base, "-", "_")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// goRefs counts selector expressions pkg.Name whose pkg is an import name.
func goRefs(f *ast.File, imports map[string]bool) []Ref {
	if len(imports) == 0 {
		return nil
	}
	counts := map[[2]string]int{}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && sel.Sel != nil && imports[x.Name] {
			counts[[2]string{x.Name, sel.Sel.Name}]++
		}
		return true
	})
	return sortedRefs(counts)
}

// sortedRefs turns counts keyed by (qualifier, name) into Refs sorted by
// qualifier and name.
func sortedRefs(counts map[[2]string]int) []Ref {
	if len(counts) == 0 {
		return nil
	}
	refs := make([]Ref, 0, len(counts))
	for k, n := range counts {
		refs = append(refs, Ref{Qualifier: k[0], Name: k[1], Count: n})
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].Qualifier != refs[j].Qualifier {
			return refs[i].Qualifier < refs[j].Qualifier
		}
		return refs[i].Name < refs[j].Name
	})
	return refs
}
