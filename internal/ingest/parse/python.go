//go:build cgo

package parse

import (
	"strings"

	sitter "github.com/smacker/go-tree-sitter"
)

// extractPython finds, at module level and in class bodies (not inside
// functions): def and async def (function; method with Parent the class
// when inside a class), class (Parent the enclosing class, if any) and
// module-level assignments to UPPER_CASE names (const). Docstrings are
// Docs. Imports anywhere: "import a.b as c" is Path "a.b" Alias "c";
// "from M import x, y" is one Import of M (".x", "..", "a.b"), except that
// "from . import x, y" (M only dots) is one Import per name (".x", ".y"),
// since each names a module. Refs are attribute accesses name.attr whose
// name an import binds.
const pythonQuery = `
(import_statement) @import
(import_from_statement) @from
(future_import_statement) @from
(attribute object: (identifier) @q attribute: (identifier) @n)
`

func extractPython(f *tsFile, root *sitter.Node) {
	pyBlock(f, root, "", true)
	f.matches(root, func(m tsMatch) {
		switch {
		case m["import"] != nil:
			pyImport(f, m["import"])
		case m["from"] != nil:
			pyImportFrom(f, m["from"])
		case m["q"] != nil:
			f.ref(f.text(m["q"]), f.text(m["n"]))
		}
	})
	if f.bound == nil {
		f.bound = map[string]bool{}
	}
}

// pyBlock extracts the definitions among a module's or class body's
// statements.
func pyBlock(f *tsFile, block *sitter.Node, class string, module bool) {
	for _, st := range blockChildren(block) {
		def := st
		if st.Type() == "decorated_definition" {
			def = st.ChildByFieldName("definition")
			if def == nil {
				continue
			}
		}
		switch def.Type() {
		case "function_definition":
			kind := "function"
			if class != "" {
				kind = "method"
			}
			body := def.ChildByFieldName("body")
			f.decl(kind, f.field(def, "name"), class, def, bodyStart(def, "body"), pyDocstring(f, body))
		case "class_definition":
			name := f.field(def, "name")
			body := def.ChildByFieldName("body")
			f.decl("class", name, class, def, bodyStart(def, "body"), pyDocstring(f, body))
			if body != nil && name != "" {
				pyBlock(f, body, name, false)
			}
		case "expression_statement":
			if !module {
				continue
			}
			for _, a := range namedChildren(def) {
				if a.Type() != "assignment" {
					continue
				}
				left := a.ChildByFieldName("left")
				if left != nil && left.Type() == "identifier" && isUpperName(f.text(left)) {
					f.decl("const", f.text(left), "", a, 0, "")
				}
			}
		}
	}
}

// pyDocstring is the string that opens a body, unquoted and dedented.
func pyDocstring(f *tsFile, body *sitter.Node) string {
	if body == nil {
		return ""
	}
	first := body.NamedChild(0)
	if first == nil || first.Type() != "expression_statement" {
		return ""
	}
	s := first.NamedChild(0)
	if s == nil || s.Type() != "string" {
		return ""
	}
	return dedent(unquote(f.text(s)))
}

func isUpperName(s string) bool {
	hasLetter := false
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			hasLetter = true
		case c == '_' || (c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return hasLetter && (s[0] < '0' || s[0] > '9')
}

func pyImport(f *tsFile, n *sitter.Node) {
	for _, c := range namedChildren(n) {
		switch c.Type() {
		case "dotted_name":
			p := f.text(c)
			f.imp(p, "", n)
			f.bind(strings.SplitN(p, ".", 2)[0])
		case "aliased_import":
			alias := f.field(c, "alias")
			f.imp(f.field(c, "name"), alias, n)
			f.bind(alias)
		}
	}
}

func pyImportFrom(f *tsFile, n *sitter.Node) {
	module := n.ChildByFieldName("module_name")
	m := "__future__"
	if module != nil {
		m = strings.Join(strings.Fields(f.text(module)), "")
	}
	onlyDots := strings.Trim(m, ".") == ""
	if !onlyDots {
		f.imp(m, "", n)
	}
	for _, c := range namedChildren(n) {
		if module != nil && c.Equal(module) {
			continue
		}
		var name, alias string
		switch c.Type() {
		case "dotted_name":
			name = f.text(c)
		case "aliased_import":
			name, alias = f.field(c, "name"), f.field(c, "alias")
		default:
			continue
		}
		if onlyDots {
			f.imp(m+name, alias, n)
		}
		if alias != "" {
			f.bind(alias)
		} else {
			f.bind(name)
		}
	}
}
