//go:build cgo

package parse

import (
	"strings"

	sitter "github.com/smacker/go-tree-sitter"
)

// extractJS serves JavaScript, TypeScript and TSX. Decls, at the top level
// (also under export) and in class bodies: function declarations
// (function), classes (class), methods (method, Parent the class), const,
// let or var declarators whose value is an arrow function or a function
// expression (function), and TypeScript's interfaces (interface), type
// aliases (type), enums (enum) and namespaces (module). A "/** ... */"
// comment right before a declaration (or its export) is its Doc, with the
// comment markers and leading "*" removed. Imports: import ... from "x",
// export ... from "x", require("x") and import("x") with a string, and
// TypeScript's import x = require("x"). Refs are member expressions
// name.prop whose name an import or require binds.
// jsQuery serves the three grammars: it names only node types they share.
const jsQuery = `
(import_statement) @import
(export_statement source: (string) @src) @export
(call_expression function: [(identifier) (import)] @fn arguments: (arguments . (string) @str .)) @call
(member_expression object: (identifier) @q property: (property_identifier) @n)
`

func extractJS(f *tsFile, root *sitter.Node) {
	f.bound = map[string]bool{}
	jsBlock(f, root, "")
	f.matches(root, func(m tsMatch) {
		switch {
		case m["import"] != nil:
			jsImport(f, m["import"])
		case m["export"] != nil:
			f.imp(unquote(f.text(m["src"])), "", m["export"])
		case m["call"] != nil:
			if fn := m["fn"]; fn.Type() == "import" || f.text(fn) == "require" {
				f.imp(unquote(f.text(m["str"])), "", m["call"])
				jsBindRequire(f, m["call"])
			}
		case m["q"] != nil:
			f.ref(f.text(m["q"]), f.text(m["n"]))
		}
	})
}

// jsBindRequire binds the name in const x = require("y").
func jsBindRequire(f *tsFile, call *sitter.Node) {
	p := call.Parent()
	if p != nil && p.Type() == "variable_declarator" {
		if name := p.ChildByFieldName("name"); name != nil && name.Type() == "identifier" {
			f.bind(f.text(name))
		}
	}
}

func jsImport(f *tsFile, n *sitter.Node) {
	src := n.ChildByFieldName("source")
	if src == nil {
		for _, c := range namedChildren(n) {
			if c.Type() == "import_require_clause" {
				if s := c.ChildByFieldName("source"); s != nil {
					f.imp(unquote(f.text(s)), "", n)
				}
				for _, k := range namedChildren(c) {
					if k.Type() == "identifier" {
						f.bind(f.text(k))
					}
				}
			}
		}
		return
	}
	alias := ""
	for _, c := range namedChildren(n) {
		if c.Type() != "import_clause" {
			continue
		}
		for _, k := range namedChildren(c) {
			switch k.Type() {
			case "identifier": // import x from
				alias = f.text(k)
				f.bind(alias)
			case "namespace_import": // import * as x from
				for _, id := range namedChildren(k) {
					alias = f.text(id)
					f.bind(alias)
				}
			case "named_imports":
				for _, spec := range namedChildren(k) {
					if spec.Type() != "import_specifier" {
						continue
					}
					if a := f.field(spec, "alias"); a != "" {
						f.bind(a)
					} else {
						f.bind(f.field(spec, "name"))
					}
				}
			}
		}
	}
	f.imp(unquote(f.text(src)), alias, n)
}

// jsBlock extracts the declarations among a program's or class body's
// children.
func jsBlock(f *tsFile, block *sitter.Node, class string) {
	var prev *sitter.Node
	for _, st := range blockChildren(block) {
		doc := ""
		if prev != nil && prev.Type() == "comment" && prev.EndPoint().Row+1 >= st.StartPoint().Row {
			doc = jsDoc(f.text(prev))
		}
		prev = st
		d := st
		if st.Type() == "export_statement" {
			if d = st.ChildByFieldName("declaration"); d == nil {
				continue
			}
		}
		jsDecl(f, d, class, doc)
	}
}

func jsDecl(f *tsFile, d *sitter.Node, class, doc string) {
	switch d.Type() {
	case "function_declaration", "generator_function_declaration", "function_signature":
		f.decl("function", f.field(d, "name"), "", d, bodyStart(d, "body"), doc)
	case "class_declaration", "abstract_class_declaration", "class":
		name := f.field(d, "name")
		f.decl("class", name, "", d, bodyStart(d, "body"), doc)
		if body := d.ChildByFieldName("body"); body != nil && name != "" {
			jsBlock(f, body, name)
		}
	case "method_definition", "abstract_method_signature":
		if class != "" {
			f.decl("method", f.field(d, "name"), class, d, bodyStart(d, "body"), doc)
		}
	case "interface_declaration":
		f.decl("interface", f.field(d, "name"), "", d, bodyStart(d, "body"), doc)
	case "type_alias_declaration":
		f.decl("type", f.field(d, "name"), "", d, 0, doc)
	case "enum_declaration":
		f.decl("enum", f.field(d, "name"), "", d, bodyStart(d, "body"), doc)
	case "internal_module", "module":
		f.decl("module", f.field(d, "name"), "", d, bodyStart(d, "body"), doc)
	case "expression_statement": // a namespace, in the TypeScript grammar
		for _, c := range namedChildren(d) {
			if c.Type() == "internal_module" {
				jsDecl(f, c, class, doc)
			}
		}
	case "ambient_declaration": // declare function f(): void; declare class C {}
		for _, c := range namedChildren(d) {
			jsDecl(f, c, class, doc)
		}
	case "lexical_declaration", "variable_declaration":
		decls := namedChildren(d)
		for _, v := range decls {
			if v.Type() != "variable_declarator" {
				continue
			}
			val := v.ChildByFieldName("value")
			if val == nil {
				continue
			}
			switch val.Type() {
			case "arrow_function", "function_expression", "function", "generator_function":
				span := v
				if len(decls) == 1 {
					span = d // the signature reads "const f = (a) =>"
				}
				dl := f.decl("function", f.field(v, "name"), "", span, bodyStart(val, "body"), doc)
				if dl != nil && span == d && d.Type() == "lexical_declaration" {
					dl.EndLine, dl.EndByte = endLine(v), int(v.EndByte())
				}
			}
		}
	}
}

// jsDoc is the text of a /** */ comment without its markers, or "".
func jsDoc(c string) string {
	if !strings.HasPrefix(c, "/**") || !strings.HasSuffix(c, "*/") || len(c) < 5 {
		return ""
	}
	c = c[3 : len(c)-2]
	lines := strings.Split(c, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "*")
		lines[i] = strings.TrimPrefix(l, " ")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
