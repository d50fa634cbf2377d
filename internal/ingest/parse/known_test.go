package parse

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// knownAnswers are the exact outlines of the testdata/shop.* files, read
// off the sources by hand.
var knownAnswers = []struct {
	file    string
	lang    string
	errors  int
	symbols []Symbol
	imports []Import
	refs    []Ref
}{
	{file: "shop.go.txt", lang: "go", errors: 0,
		symbols: []Symbol{
			{Name: "MaxItems", Qualified: "MaxItems", Kind: "const", StartLine: 12, EndLine: 12, Signature: "const MaxItems = 10", Doc: "MaxItems is the most a cart holds."},
			{Name: "A", Qualified: "A", Kind: "const", StartLine: 16, EndLine: 16, Signature: "A = iota", Doc: "A is a."},
			{Name: "B", Qualified: "B", Kind: "const", StartLine: 17, EndLine: 17, Signature: "B", Doc: ""},
			{Name: "ErrFull", Qualified: "ErrFull", Kind: "var", StartLine: 20, EndLine: 20, Signature: "var ErrFull = fmt.Errorf(\"full\")", Doc: ""},
			{Name: "Cart", Qualified: "Cart", Kind: "struct", StartLine: 23, EndLine: 25, Signature: "type Cart[T any] struct", Doc: "Cart holds items."},
			{Name: "Sizer", Qualified: "Sizer", Kind: "interface", StartLine: 28, EndLine: 30, Signature: "type Sizer interface", Doc: "Sizer sizes."},
			{Name: "ID", Qualified: "ID", Kind: "type", StartLine: 32, EndLine: 32, Signature: "type ID string", Doc: ""},
			{Name: "Add", Qualified: "Cart.Add", Kind: "method", StartLine: 35, EndLine: 41, Signature: "func (c *Cart[T]) Add(item T) error", Doc: "Add adds an item."},
			{Name: "New", Qualified: "New", Kind: "function", StartLine: 43, EndLine: 43, Signature: "func New[T any]() *Cart[T]", Doc: ""},
		},
		imports: []Import{
			{Path: "fmt", Alias: "", Line: 5},
			{Path: "strings", Alias: "str", Line: 6},
			{Path: "math/rand/v2", Alias: "", Line: 7},
			{Path: "embed", Alias: "_", Line: 8},
		},
		refs: []Ref{
			{Qualifier: "fmt", Name: "Errorf", Count: 2},
			{Qualifier: "fmt", Name: "Println", Count: 1},
			{Qualifier: "rand", Name: "IntN", Count: 1},
			{Qualifier: "str", Name: "ToUpper", Count: 1},
		}},
	{file: "shop.py", lang: "python", errors: 0,
		symbols: []Symbol{
			{Name: "MAX_SIZE", Qualified: "MAX_SIZE", Kind: "const", StartLine: 9, EndLine: 9, Signature: "MAX_SIZE = 10", Doc: ""},
			{Name: "top", Qualified: "top", Kind: "function", StartLine: 14, EndLine: 19, Signature: "def top(a, b=1) -> int:", Doc: "Top does things.\n\nMore detail."},
			{Name: "Store", Qualified: "Store", Kind: "class", StartLine: 22, EndLine: 32, Signature: "class Store(Base):", Doc: "A store."},
			{Name: "fetch", Qualified: "Store.fetch", Kind: "method", StartLine: 27, EndLine: 28, Signature: "async def fetch(self, key):", Doc: ""},
			{Name: "Inner", Qualified: "Store.Inner", Kind: "class", StartLine: 30, EndLine: 32, Signature: "class Inner:", Doc: ""},
			{Name: "deep", Qualified: "Inner.deep", Kind: "method", StartLine: 31, EndLine: 32, Signature: "def deep(self):", Doc: ""},
		},
		imports: []Import{
			{Path: "os", Alias: "", Line: 2},
			{Path: "os.path", Alias: "osp", Line: 3},
			{Path: "sys", Alias: "", Line: 3},
			{Path: ".util", Alias: "", Line: 4},
			{Path: ".sibling", Alias: "", Line: 5},
			{Path: "..pkg.mod", Alias: "", Line: 6},
			{Path: "collections", Alias: "", Line: 7},
		},
		refs: []Ref{
			{Qualifier: "h", Name: "x", Count: 1},
			{Qualifier: "os", Name: "getcwd", Count: 1},
			{Qualifier: "osp", Name: "join", Count: 1},
			{Qualifier: "sys", Name: "exit", Count: 1},
		}},
	{file: "shop.js", lang: "javascript", errors: 0,
		symbols: []Symbol{
			{Name: "formatPrice", Qualified: "formatPrice", Kind: "function", StartLine: 11, EndLine: 13, Signature: "function formatPrice(cents)", Doc: "Formats a price."},
			{Name: "Cart", Qualified: "Cart", Kind: "class", StartLine: 16, EndLine: 29, Signature: "class Cart extends EventEmitter", Doc: "A cart of items."},
			{Name: "constructor", Qualified: "Cart.constructor", Kind: "method", StartLine: 17, EndLine: 20, Signature: "constructor()", Doc: ""},
			{Name: "add", Qualified: "Cart.add", Kind: "method", StartLine: 23, EndLine: 26, Signature: "add(item)", Doc: "Adds an item."},
			{Name: "size", Qualified: "Cart.size", Kind: "method", StartLine: 28, EndLine: 28, Signature: "get size()", Doc: ""},
			{Name: "total", Qualified: "total", Kind: "function", StartLine: 31, EndLine: 31, Signature: "const total = (items) =>", Doc: ""},
			{Name: "discount", Qualified: "discount", Kind: "function", StartLine: 33, EndLine: 35, Signature: "const discount = function (price)", Doc: ""},
			{Name: "bump", Qualified: "bump", Kind: "function", StartLine: 37, EndLine: 37, Signature: "bump = () =>", Doc: ""},
		},
		imports: []Import{
			{Path: "path", Alias: "", Line: 2},
			{Path: "events", Alias: "", Line: 3},
			{Path: "./config.js", Alias: "config", Line: 4},
			{Path: "../lib/utils", Alias: "utils", Line: 5},
			{Path: "./render", Alias: "", Line: 6},
		},
		refs: []Ref{
			{Qualifier: "config", Name: "currency", Count: 1},
			{Qualifier: "path", Name: "join", Count: 1},
			{Qualifier: "utils", Name: "round", Count: 1},
		}},
	{file: "shop.ts", lang: "typescript", errors: 0,
		symbols: []Symbol{
			{Name: "add", Qualified: "add", Kind: "function", StartLine: 13, EndLine: 15, Signature: "function add(a: number, b: number): number", Doc: "Adds two numbers.\n@param a first"},
			{Name: "Shape", Qualified: "Shape", Kind: "interface", StartLine: 18, EndLine: 20, Signature: "interface Shape", Doc: "A shape."},
			{Name: "ID", Qualified: "ID", Kind: "type", StartLine: 22, EndLine: 22, Signature: "type ID = string | number;", Doc: ""},
			{Name: "Color", Qualified: "Color", Kind: "enum", StartLine: 24, EndLine: 24, Signature: "enum Color", Doc: ""},
			{Name: "double", Qualified: "double", Kind: "function", StartLine: 26, EndLine: 26, Signature: "const double = (x: number): number =>", Doc: ""},
			{Name: "Circle", Qualified: "Circle", Kind: "class", StartLine: 28, EndLine: 34, Signature: "class Circle implements Shape", Doc: ""},
			{Name: "area", Qualified: "Circle.area", Kind: "method", StartLine: 30, EndLine: 32, Signature: "area(): number", Doc: "The area."},
			{Name: "create", Qualified: "Circle.create", Kind: "method", StartLine: 33, EndLine: 33, Signature: "static create(): Circle", Doc: ""},
			{Name: "NS", Qualified: "NS", Kind: "module", StartLine: 36, EndLine: 36, Signature: "namespace NS", Doc: ""},
			{Name: "lazy", Qualified: "lazy", Kind: "function", StartLine: 37, EndLine: 37, Signature: "async function lazy()", Doc: ""},
		},
		imports: []Import{
			{Path: "fs", Alias: "fs", Line: 1},
			{Path: "node:path", Alias: "path", Line: 2},
			{Path: "./util", Alias: "", Line: 3},
			{Path: "../config", Alias: "", Line: 4},
			{Path: "./thing", Alias: "", Line: 5},
			{Path: "./all", Alias: "", Line: 6},
			{Path: "legacy", Alias: "", Line: 7},
			{Path: "./lazy", Alias: "", Line: 37},
		},
		refs: []Ref{
			{Qualifier: "fs", Name: "x", Count: 1},
			{Qualifier: "legacy", Name: "y", Count: 1},
			{Qualifier: "path", Name: "join", Count: 1},
			{Qualifier: "res", Name: "pi", Count: 1},
		}},
	{file: "shop.rs", lang: "rust", errors: 0,
		symbols: []Symbol{
			{Name: "Point", Qualified: "Point", Kind: "struct", StartLine: 11, EndLine: 14, Signature: "pub struct Point<T>", Doc: "A point in space.\nWith two lines."},
			{Name: "Shape", Qualified: "Shape", Kind: "enum", StartLine: 16, EndLine: 16, Signature: "pub enum Shape", Doc: ""},
			{Name: "Area", Qualified: "Area", Kind: "trait", StartLine: 18, EndLine: 22, Signature: "pub trait Area", Doc: ""},
			{Name: "area", Qualified: "Area.area", Kind: "method", StartLine: 20, EndLine: 20, Signature: "fn area(&self) -> f64;", Doc: "The area."},
			{Name: "name", Qualified: "Area.name", Kind: "method", StartLine: 21, EndLine: 21, Signature: "fn name(&self) -> String", Doc: ""},
			{Name: "Point", Qualified: "Point", Kind: "impl", StartLine: 24, EndLine: 30, Signature: "impl<T: Copy> Area for Point<T>", Doc: ""},
			{Name: "area", Qualified: "Point.area", Kind: "method", StartLine: 25, EndLine: 29, Signature: "fn area(&self) -> f64", Doc: ""},
			{Name: "MAX", Qualified: "MAX", Kind: "const", StartLine: 32, EndLine: 32, Signature: "pub const MAX: usize = 10;", Doc: ""},
			{Name: "COUNTER", Qualified: "COUNTER", Kind: "var", StartLine: 33, EndLine: 33, Signature: "static COUNTER: AtomicUsize = AtomicUsize::new(0);", Doc: ""},
			{Name: "Map", Qualified: "Map", Kind: "type", StartLine: 34, EndLine: 34, Signature: "type Map = HashMap<String, String>;", Doc: ""},
			{Name: "square", Qualified: "square", Kind: "macro", StartLine: 36, EndLine: 38, Signature: "macro_rules! square { ($x:expr) => { $x * $x }; }", Doc: ""},
			{Name: "inner", Qualified: "inner", Kind: "module", StartLine: 40, EndLine: 42, Signature: "pub mod inner", Doc: ""},
			{Name: "helper", Qualified: "inner.helper", Kind: "function", StartLine: 41, EndLine: 41, Signature: "pub fn helper() -> i32", Doc: ""},
			{Name: "main", Qualified: "main", Kind: "function", StartLine: 44, EndLine: 46, Signature: "fn main()", Doc: ""},
		},
		imports: []Import{
			{Path: "std::collections::HashMap", Alias: "", Line: 2},
			{Path: "crate::store", Alias: "", Line: 3},
			{Path: "crate::store::Store", Alias: "S", Line: 3},
			{Path: "crate::store::backend::File", Alias: "", Line: 3},
			{Path: "crate::store::backend::Mem", Alias: "", Line: 3},
			{Path: "super::util::*", Alias: "", Line: 4},
			{Path: "serde", Alias: "", Line: 5},
			{Path: "self::config", Alias: "", Line: 6},
		},
		refs: []Ref{
			{Qualifier: "AtomicUsize", Name: "new", Count: 1},
			{Qualifier: "HashMap", Name: "new", Count: 1},
			{Qualifier: "S", Name: "default", Count: 1},
			{Qualifier: "String", Name: "from", Count: 1},
			{Qualifier: "store", Name: "open", Count: 1},
		}},
	{file: "shop.ex", lang: "elixir", errors: 0,
		symbols: []Symbol{
			{Name: "Shop.Cart", Qualified: "Shop.Cart", Kind: "module", StartLine: 1, EndLine: 30, Signature: "defmodule Shop.Cart", Doc: "A shopping cart."},
			{Name: "add", Qualified: "Shop.Cart.add", Kind: "function", StartLine: 12, EndLine: 17, Signature: "def add(cart, %Item{} = item)", Doc: "Adds an item."},
			{Name: "total", Qualified: "Shop.Cart.total", Kind: "function", StartLine: 19, EndLine: 19, Signature: "defp total(items) when is_list(items)", Doc: ""},
			{Name: "debug", Qualified: "Shop.Cart.debug", Kind: "macro", StartLine: 21, EndLine: 23, Signature: "defmacro debug(expr)", Doc: ""},
			{Name: "empty", Qualified: "Shop.Cart.empty", Kind: "function", StartLine: 25, EndLine: 25, Signature: "def empty", Doc: ""},
			{Name: "Shop.Cart.Line", Qualified: "Shop.Cart.Line", Kind: "module", StartLine: 27, EndLine: 29, Signature: "defmodule Line", Doc: ""},
			{Name: "new", Qualified: "Shop.Cart.Line.new", Kind: "function", StartLine: 28, EndLine: 28, Signature: "def new(x)", Doc: ""},
		},
		imports: []Import{
			{Path: "Shop.Item", Alias: "", Line: 5},
			{Path: "Shop.Price", Alias: "", Line: 5},
			{Path: "Shop.Repo", Alias: "R", Line: 6},
			{Path: "Ecto.Query", Alias: "", Line: 7},
			{Path: "Logger", Alias: "", Line: 8},
			{Path: "GenServer", Alias: "", Line: 9},
		},
		refs: []Ref{
			{Qualifier: "Enum", Name: "sum", Count: 1},
			{Qualifier: "IO", Name: "inspect", Count: 1},
			{Qualifier: "Logger", Name: "info", Count: 1},
			{Qualifier: "Price", Name: "compute", Count: 1},
			{Qualifier: "R", Name: "insert", Count: 1},
		}},
}

func TestParseKnownAnswers(t *testing.T) {
	t.Parallel()

	for _, tt := range knownAnswers {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
			if !Supported(tt.lang) {
				// A build without cgo has no tree-sitter: it must say so.
				_, err := Parse(tt.lang, src)
				require.ErrorIs(t, err, ErrUnsupported)
				return
			}
			o, err := Parse(tt.lang, src)
			require.NoError(t, err)
			require.Equal(t, tt.lang, o.Language)
			require.Equal(t, tt.errors, o.Errors)
			require.Equal(t, tt.symbols, Symbols(o, src))
			require.Equal(t, tt.imports, o.Imports)
			require.Equal(t, tt.refs, o.Refs)
			for _, d := range o.Decls {
				require.LessOrEqual(t, d.StartByte, d.SigEndByte, d.Name)
				require.LessOrEqual(t, d.SigEndByte, d.EndByte, d.Name)
				require.LessOrEqual(t, d.EndByte, len(src), d.Name)
				require.LessOrEqual(t, d.StartLine, d.EndLine, d.Name)
			}
		})
	}
}

// TestParseSyntaxErrors parses a file with syntax errors per language: no
// panic, Errors > 0, and the declarations around the errors still found.
func TestParseSyntaxErrors(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		file  string
		lang  string
		names []string // declarations that must be found
	}{
		{"broken.go.txt", "go", []string{"Good", "Bad"}},
		{"broken.py", "python", []string{"good", "Fine", "method"}},
		{"broken.js", "javascript", []string{"good", "Later", "m"}},
		{"broken.ts", "typescript", []string{"Good"}},
		{"broken.rs", "rust", []string{"good", "After"}},
		{"broken.ex", "elixir", []string{"Broken", "good"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
			if !Supported(tt.lang) {
				// A build without cgo has no tree-sitter: it must say so.
				_, err := Parse(tt.lang, src)
				require.ErrorIs(t, err, ErrUnsupported)
				return
			}
			o, err := Parse(tt.lang, src)
			require.NoError(t, err)
			require.Positive(t, o.Errors)
			var names []string
			for _, d := range o.Decls {
				names = append(names, d.Name)
			}
			require.Subset(t, names, tt.names)
			require.NotEmpty(t, o.Imports)
		})
	}
}
