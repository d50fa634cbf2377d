//go:build cgo

package parse

import (
	"strings"

	sitter "github.com/smacker/go-tree-sitter"
)

// extractElixir finds, at the top level and in module bodies: defmodule
// (module, Name the full alias: "Foo.Bar", also for a module nested in
// Foo), defprotocol (interface), defimpl (impl), def, defp and
// defdelegate (function, Parent the module), defmacro, defmacrop, defguard
// and defguardp (macro). Consecutive clauses of one function are one Decl.
// A function's signature is its head ("def add(cart, item) when ...").
// @moduledoc is the module's Doc and @doc the next definition's. Imports:
// alias, import, require and use, with "alias Foo.{A, B}" expanded to
// "Foo.A" and "Foo.B" and "as:" as the Alias. Refs are remote calls
// Foo.Bar.baz(...) on an alias (Qualifier "Foo.Bar", Name "baz").
const elixirQuery = `
(call target: (identifier) @kw) @call
(call target: (dot left: (alias) @q right: (identifier) @n))
`

func extractElixir(f *tsFile, root *sitter.Node) {
	exBlock(f, root, "")
	f.matches(root, func(m tsMatch) {
		switch {
		case m["call"] != nil:
			switch f.text(m["kw"]) {
			case "alias", "import", "require", "use":
				exImport(f, m["call"])
			}
		case m["q"] != nil:
			f.ref(f.text(m["q"]), f.text(m["n"]))
		}
	})
}

func childOfType(n *sitter.Node, typ string) *sitter.Node {
	for _, c := range namedChildren(n) {
		if c.Type() == typ {
			return c
		}
	}
	return nil
}

// exBlock extracts the definitions among a source's or do block's
// children; module is the enclosing module's full name.
func exBlock(f *tsFile, block *sitter.Node, module string) {
	doc, moduleDecl := "", -1
	if module != "" && len(f.o.Decls) > 0 {
		moduleDecl = len(f.o.Decls) - 1
	}
	for _, st := range blockChildren(block) {
		switch st.Type() {
		case "unary_operator": // @doc, @moduledoc
			attr := st.ChildByFieldName("operand")
			if attr == nil || attr.Type() != "call" {
				continue
			}
			switch f.field(attr, "target") {
			case "doc":
				doc = exDocArg(f, attr)
			case "moduledoc":
				if moduleDecl >= 0 {
					f.o.Decls[moduleDecl].Doc = exDocArg(f, attr)
				}
			}
		case "call":
			target := st.ChildByFieldName("target")
			if target == nil || target.Type() != "identifier" {
				continue
			}
			args := childOfType(st, "arguments")
			if args == nil {
				continue
			}
			head := args.NamedChild(0)
			if head == nil {
				continue
			}
			body := childOfType(st, "do_block")
			switch kw := f.text(target); kw {
			case "defmodule", "defprotocol", "defimpl":
				if head.Type() != "alias" {
					continue
				}
				name := f.text(head)
				if module != "" && kw == "defmodule" {
					name = module + "." + name
				}
				kind := map[string]string{"defmodule": "module", "defprotocol": "interface", "defimpl": "impl"}[kw]
				sigEnd := uint32(0)
				if body != nil {
					sigEnd = body.StartByte()
				}
				f.decl(kind, name, "", st, sigEnd, doc)
				doc = ""
				if body != nil {
					exBlock(f, body, name)
				}
			case "def", "defp", "defdelegate", "defmacro", "defmacrop", "defguard", "defguardp":
				kind := "function"
				if strings.HasPrefix(kw, "defmacro") || strings.HasPrefix(kw, "defguard") {
					kind = "macro"
				}
				name := exDefName(f, head)
				if name == "" {
					continue
				}
				if n := len(f.o.Decls); n > 0 {
					if last := &f.o.Decls[n-1]; last.Kind == kind && last.Name == name && last.Parent == module {
						last.EndLine, last.EndByte = endLine(st), int(st.EndByte())
						if last.Doc == "" {
							last.Doc = doc
						}
						doc = ""
						continue
					}
				}
				f.decl(kind, name, module, st, head.EndByte(), doc)
				doc = ""
			}
		}
	}
}

// exDefName is the function name in a def's head: f in f(a), f, f(a) when
// g(a).
func exDefName(f *tsFile, head *sitter.Node) string {
	for head != nil {
		switch head.Type() {
		case "identifier":
			return f.text(head)
		case "call":
			t := head.ChildByFieldName("target")
			if t == nil || t.Type() != "identifier" {
				return ""
			}
			return f.text(t)
		case "binary_operator": // f(a) when guard
			head = head.ChildByFieldName("left")
		default:
			return ""
		}
	}
	return ""
}

// exDocArg is the string of @doc "..." or @doc """...""" or @doc ~S"""...""";
// "" for @doc false.
func exDocArg(f *tsFile, attr *sitter.Node) string {
	args := childOfType(attr, "arguments")
	if args == nil {
		return ""
	}
	s := args.NamedChild(0)
	if s == nil {
		return ""
	}
	switch s.Type() {
	case "string", "sigil":
		var sb strings.Builder
		for _, c := range namedChildren(s) {
			if c.Type() == "quoted_content" {
				sb.WriteString(f.text(c))
			}
		}
		return dedent(sb.String())
	}
	return ""
}

func exImport(f *tsFile, call *sitter.Node) {
	args := childOfType(call, "arguments")
	if args == nil {
		return
	}
	alias := ""
	if kws := childOfType(args, "keywords"); kws != nil {
		for _, p := range namedChildren(kws) {
			if k := p.ChildByFieldName("key"); k != nil && strings.TrimSpace(f.text(k)) == "as:" {
				alias = f.field(p, "value")
			}
		}
	}
	first := args.NamedChild(0)
	if first == nil {
		return
	}
	switch first.Type() {
	case "alias", "atom":
		f.imp(f.text(first), alias, call)
	case "dot": // alias Foo.{A, B}
		left, right := first.ChildByFieldName("left"), first.ChildByFieldName("right")
		if left == nil || right == nil || right.Type() != "tuple" {
			return
		}
		for _, a := range namedChildren(right) {
			if a.Type() == "alias" {
				f.imp(f.text(left)+"."+f.text(a), "", call)
			}
		}
	}
}
