package parse

import (
	"path"
	"strings"

	"github.com/quantumflow/quantumflow/internal/ingest/lang"
)

// StdModule is the goModule to pass to ImportCandidates for the Go
// standard library's own tree ($(go env GOROOT)/src), whose go.mod says
// "module std" and whose import paths are directories under the root.
const StdModule = "std"

// ImportCandidates returns the repository-relative paths an import may
// refer to, most likely first, for the pipeline's relationship step: files
// ("a/b.py"), or directories ending in "/" ("net/http/") meaning the files
// directly in them; the root directory is "". The step keeps the
// candidates that exist in the codebase. fromPath is the importing file's
// repository-relative path (slash-separated), importPath an Import.Path,
// and goModule the module path of the root go.mod ("" when there is none).
//
//   - Go: an import path under goModule is its directory with the module
//     prefix stripped ("github.com/x/y/internal/z" in module
//     "github.com/x/y" → "internal/z/"). With goModule StdModule, an import
//     path whose first element has no dot is its own directory
//     ("net/http" → "net/http/"), and one with a dot may be vendored
//     ("golang.org/x/net/idna" → "vendor/golang.org/x/net/idna/",
//     "cmd/vendor/golang.org/x/net/idna/").
//   - Python: "a.b" → "a/b.py", "a/b/__init__.py"; a relative ".x" or
//     "..x.y" resolves against fromPath's package directory ("." is that
//     package: "pkg/__init__.py").
//   - JavaScript, TypeScript, TSX: a relative "./a" or "../a" resolves
//     against fromPath's directory to "a.ts", "a.tsx", "a.js", "a.jsx",
//     "a/index.ts", "a/index.tsx", "a/index.js", "a/index.jsx"; a path
//     with a script, JSON or CSS extension is that file ("./a.js" also
//     "a.ts" and "a.tsx": TypeScript's ESM convention). A bare module name ("react") is a
//     package, not a file of the codebase: none.
//   - Rust: "crate::a::b" → "src/a/b.rs", "src/a/b/mod.rs" (a module),
//     then "src/a.rs", "src/a/mod.rs" (an item of module a), where src/ is
//     the crate's source directory (the nearest "src/" above fromPath, or
//     "src/"); "self::" and "super::" resolve against fromPath's module. A
//     path through an external crate: none.
//   - Elixir: none. A module's name does not follow from its file's path,
//     so Elixir imports resolve by module symbol name ("Foo.Bar" is the
//     file that has a module symbol named "Foo.Bar").
//
// Other languages, and imports that cannot be in the codebase, give nil.
func ImportCandidates(language, fromPath, importPath, goModule string) []string {
	switch language {
	case lang.Go:
		return goCandidates(importPath, goModule)
	case lang.Python:
		return pyCandidates(fromPath, importPath)
	case lang.JavaScript, lang.TypeScript, lang.TSX:
		return jsCandidates(fromPath, importPath)
	case lang.Rust:
		return rustCandidates(fromPath, importPath)
	}
	return nil
}

func dirSlash(p string) string {
	if p == "" || p == "." {
		return ""
	}
	return p + "/"
}

func goCandidates(importPath, module string) []string {
	switch {
	case importPath == "":
		return nil
	case module == StdModule:
		first, _, _ := strings.Cut(importPath, "/")
		if strings.Contains(first, ".") {
			return []string{"vendor/" + importPath + "/", "cmd/vendor/" + importPath + "/"}
		}
		return []string{importPath + "/"}
	case module == "":
		return nil
	case importPath == module:
		return []string{""}
	case strings.HasPrefix(importPath, module+"/"):
		return []string{strings.TrimPrefix(importPath, module+"/") + "/"}
	}
	return nil
}

func pyCandidates(fromPath, importPath string) []string {
	rest := strings.TrimLeft(importPath, ".")
	dots := len(importPath) - len(rest)
	base := ""
	if dots > 0 {
		base = path.Dir(fromPath)
		for i := 1; i < dots; i++ {
			if base == "." || base == "" || base == "/" {
				return nil // above the root
			}
			base = path.Dir(base)
		}
		if base == "." {
			base = ""
		}
	}
	if rest == "" {
		if dots == 0 {
			return nil
		}
		return []string{dirSlash(base) + "__init__.py"}
	}
	p := path.Join(base, strings.ReplaceAll(rest, ".", "/"))
	return []string{p + ".py", p + "/__init__.py"}
}

func jsCandidates(fromPath, importPath string) []string {
	if !strings.HasPrefix(importPath, "./") && !strings.HasPrefix(importPath, "../") && importPath != "." && importPath != ".." {
		return nil
	}
	p := path.Join(path.Dir(fromPath), importPath)
	if p == ".." || strings.HasPrefix(p, "../") {
		return nil // above the root
	}
	if p == "." {
		p = ""
	}
	var out []string
	switch ext := path.Ext(p); ext {
	case ".js", ".jsx", ".mjs", ".cjs":
		stem := strings.TrimSuffix(p, ext)
		return []string{p, stem + ".ts", stem + ".tsx"}
	case ".ts", ".tsx", ".mts", ".cts", ".json", ".css":
		return []string{p}
	}
	if p != "" {
		for _, ext := range []string{".ts", ".tsx", ".js", ".jsx"} {
			out = append(out, p+ext)
		}
	}
	for _, ext := range []string{".ts", ".tsx", ".js", ".jsx"} {
		out = append(out, dirSlash(p)+"index"+ext)
	}
	return out
}

func rustCandidates(fromPath, importPath string) []string {
	segs := strings.Split(strings.TrimPrefix(importPath, "::"), "::")
	if len(segs) > 0 && segs[len(segs)-1] == "*" {
		segs = segs[:len(segs)-1]
	}
	if len(segs) == 0 {
		return nil
	}
	var dir string // the module directory the rest of the path starts from
	switch segs[0] {
	case "crate":
		dir = rustSrc(fromPath)
	case "self":
		dir = rustModuleDir(fromPath)
	case "super":
		dir = rustModuleDir(fromPath)
		for len(segs) > 0 && segs[0] == "super" {
			if dir == "" {
				return nil
			}
			dir = path.Dir(dir)
			if dir == "." {
				dir = ""
			}
			segs = segs[1:]
		}
		segs = append([]string{"super"}, segs...)
	default:
		return nil
	}
	segs = segs[1:]
	if len(segs) == 0 {
		return nil
	}
	var out []string
	// The longest path first: all segments a module, then all but the
	// last (the last an item of that module), and so on up to the first.
	for n := len(segs); n >= 1; n-- {
		p := path.Join(dir, path.Join(segs[:n]...))
		out = append(out, p+".rs", p+"/mod.rs")
	}
	return out
}

// rustSrc is the crate's source directory for a file: the nearest "src"
// directory above it, or "src".
func rustSrc(fromPath string) string {
	for d := path.Dir(fromPath); d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if path.Base(d) == "src" {
			return d
		}
	}
	return "src"
}

// rustModuleDir is the directory a file's child modules live in:
// its own directory for lib.rs, main.rs and mod.rs, else dir/stem.
func rustModuleDir(fromPath string) string {
	dir := path.Dir(fromPath)
	if dir == "." {
		dir = ""
	}
	switch path.Base(fromPath) {
	case "lib.rs", "main.rs", "mod.rs":
		return dir
	}
	return path.Join(dir, strings.TrimSuffix(path.Base(fromPath), ".rs"))
}
