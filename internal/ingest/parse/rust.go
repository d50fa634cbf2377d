//go:build cgo

package parse

import (
	"strings"

	sitter "github.com/smacker/go-tree-sitter"
)

// extractRust finds items at the top level and in inline modules, impl and
// trait blocks: fn (function; method with Parent the impl's type, or the
// trait, inside impl and trait blocks), struct and union (struct), enum,
// trait, impl (Name the type, with no generics or path), mod with a body
// (module), const (const), static (var), type (type) and macro_rules!
// (macro). Items inside an inline module have the module's name as
// Parent. Doc is the "///" or "/** */" comments before an item (attributes
// in between are skipped). Imports: use declarations, with lists expanded
// ("use a::b::{c, d as e}" is "a::b::c" and "a::b::d" alias "e";
// "a::b::{self}" is "a::b"; globs stay "a::b::*"), "mod x;" as
// "self::x", and "extern crate x" as "x". Refs are scoped identifiers and
// scoped type identifiers a::b::c outside use declarations (Qualifier
// "a::b", Name "c").
const rustQuery = `
(use_declaration argument: (_) @arg) @use
(extern_crate_declaration) @extern
(mod_item name: (identifier) @name !body) @mod
(scoped_identifier path: (_) @q name: (_) @n) @ref
(scoped_type_identifier path: (_) @q name: (_) @n) @ref
`

func extractRust(f *tsFile, root *sitter.Node) {
	rustItems(f, root, "", "")
	f.matches(root, func(m tsMatch) {
		switch {
		case m["use"] != nil:
			rustUse(f, m["use"], m["arg"], "")
		case m["extern"] != nil:
			n := m["extern"]
			f.imp(f.field(n, "name"), f.field(n, "alias"), n)
		case m["mod"] != nil:
			f.imp("self::"+f.text(m["name"]), "", m["mod"])
		case m["ref"] != nil:
			// Count a path once, at its outermost node, and not in a use.
			if p := m["ref"].Parent(); p != nil {
				switch p.Type() {
				case "scoped_identifier", "scoped_type_identifier", "use_declaration",
					"use_as_clause", "scoped_use_list", "use_list", "use_wildcard":
					return
				}
			}
			f.ref(f.text(m["q"]), f.text(m["n"]))
		}
	})
}

// rustItems extracts the items among a source file's or block's children;
// module is the enclosing inline module, owner the impl's type or trait.
func rustItems(f *tsFile, block *sitter.Node, module, owner string) {
	var docs []string
	for _, it := range blockChildren(block) {
		switch t := it.Type(); t {
		case "line_comment", "block_comment":
			text := f.text(it)
			switch {
			case strings.HasPrefix(text, "///") && !strings.HasPrefix(text, "////"):
				docs = append(docs, strings.TrimPrefix(strings.TrimPrefix(strings.TrimRight(text, "\r\n"), "///"), " "))
			case strings.HasPrefix(text, "/**") && !strings.HasPrefix(text, "/***"):
				docs = append(docs, jsDoc(text))
			default:
				docs = nil
			}
			continue
		case "attribute_item":
			continue
		}
		doc := strings.Join(docs, "\n")
		docs = nil
		parent := module
		if owner != "" {
			parent = owner
		}
		switch it.Type() {
		case "function_item", "function_signature_item":
			kind := "function"
			if owner != "" {
				kind = "method"
			}
			f.decl(kind, f.field(it, "name"), parent, it, bodyStart(it, "body"), doc)
		case "struct_item", "union_item":
			f.decl("struct", f.field(it, "name"), parent, it, bodyStart(it, "body"), doc)
		case "enum_item":
			f.decl("enum", f.field(it, "name"), parent, it, bodyStart(it, "body"), doc)
		case "type_item":
			f.decl("type", f.field(it, "name"), parent, it, 0, doc)
		case "const_item":
			f.decl("const", f.field(it, "name"), parent, it, 0, doc)
		case "static_item":
			f.decl("var", f.field(it, "name"), parent, it, 0, doc)
		case "macro_definition":
			f.decl("macro", f.field(it, "name"), parent, it, 0, doc)
		case "trait_item":
			name := f.field(it, "name")
			f.decl("trait", name, parent, it, bodyStart(it, "body"), doc)
			if body := it.ChildByFieldName("body"); body != nil && name != "" {
				rustItems(f, body, module, name)
			}
		case "impl_item":
			name := rustTypeName(f, it.ChildByFieldName("type"))
			f.decl("impl", name, module, it, bodyStart(it, "body"), doc)
			if body := it.ChildByFieldName("body"); body != nil && name != "" {
				rustItems(f, body, module, name)
			}
		case "mod_item":
			body := it.ChildByFieldName("body")
			if body == nil {
				continue
			}
			name := f.field(it, "name")
			f.decl("module", name, module, it, body.StartByte(), doc)
			rustItems(f, body, name, "")
		}
	}
}

// rustTypeName is the bare name of an impl's type: Foo for Foo, Foo<T>,
// a::Foo, &Foo.
func rustTypeName(f *tsFile, n *sitter.Node) string {
	for n != nil {
		switch n.Type() {
		case "type_identifier", "primitive_type":
			return f.text(n)
		case "generic_type":
			n = n.ChildByFieldName("type")
		case "scoped_type_identifier":
			n = n.ChildByFieldName("name")
		case "reference_type", "pointer_type":
			n = n.ChildByFieldName("type")
		default:
			return f.text(n)
		}
	}
	return ""
}

// rustUse expands one use tree under prefix ("a::b::" or "").
func rustUse(f *tsFile, decl, n *sitter.Node, prefix string) {
	switch n.Type() {
	case "use_as_clause":
		f.imp(prefix+f.field(n, "path"), f.field(n, "alias"), decl)
	case "scoped_use_list":
		p := prefix
		if path := n.ChildByFieldName("path"); path != nil {
			p += f.text(path) + "::"
		}
		if list := n.ChildByFieldName("list"); list != nil {
			rustUse(f, decl, list, p)
		}
	case "use_list":
		for _, c := range namedChildren(n) {
			rustUse(f, decl, c, prefix)
		}
	case "self":
		f.imp(strings.TrimSuffix(prefix, "::"), "", decl)
	case "line_comment", "block_comment":
	default: // identifier, scoped_identifier, use_wildcard, crate, super
		f.imp(prefix+strings.Join(strings.Fields(f.text(n)), ""), "", decl)
	}
}
