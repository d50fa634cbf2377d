//go:build cgo && unix

package parse

import (
	"context"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	sitter "github.com/smacker/go-tree-sitter"
	"github.com/smacker/go-tree-sitter/golang"
)

// cpuTime is the CPU time (user and system) the process has used. On this
// shared machine wall-clock times swing with other work; CPU time per op
// ("cpu-ns/op") is the stable figure to compare parsers by.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per op since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

type benchFile struct {
	path    string
	content []byte
}

// readTree reads every file under root whose name ends in ext; the
// benchmark is skipped when there are none.
func readTree(b *testing.B, root, ext string) ([]benchFile, int64) {
	b.Helper()
	var files []benchFile
	var size int64
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(path, ext) {
			return nil
		}
		content, err := os.ReadFile(path)
		if err == nil {
			files = append(files, benchFile{path, content})
			size += int64(len(content))
		}
		return nil
	})
	if len(files) == 0 {
		b.Skipf("no %s files under %s", ext, root)
	}
	return files, size
}

func goSrcFiles(b *testing.B) ([]benchFile, int64) {
	return readTree(b, filepath.Join(runtime.GOROOT(), "src"), ".go")
}

// BenchmarkGoSrcGoParser parses every .go file of the Go source tree with
// go/parser alone (one op = the whole tree), the same work as
// BenchmarkGoSrcTreeSitterGo.
func BenchmarkGoSrcGoParser(b *testing.B) {
	files, size := goSrcFiles(b)
	b.SetBytes(size)
	b.ResetTimer()
	cpu := cpuTime()
	defer reportCPU(b, cpu)
	for b.Loop() {
		for _, f := range files {
			_, _ = parser.ParseFile(token.NewFileSet(), "", f.content, parser.ParseComments|parser.SkipObjectResolution)
		}
	}
	b.ReportMetric(float64(len(files)), "files/op")
}

// BenchmarkGoSrcParse is Parse("go") over the Go source tree: go/parser
// plus the outline (decls, imports, refs).
func BenchmarkGoSrcParse(b *testing.B) {
	files, size := goSrcFiles(b)
	b.SetBytes(size)
	b.ResetTimer()
	cpu := cpuTime()
	defer reportCPU(b, cpu)
	for b.Loop() {
		for _, f := range files {
			if _, err := Parse("go", f.content); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(files)), "files/op")
}

// BenchmarkGoSrcTreeSitterGo parses every .go file of the Go source tree
// with tree-sitter's Go grammar (parse only, no walk).
func BenchmarkGoSrcTreeSitterGo(b *testing.B) {
	files, size := goSrcFiles(b)
	p := sitter.NewParser()
	defer p.Close()
	p.SetLanguage(golang.GetLanguage())
	b.SetBytes(size)
	b.ResetTimer()
	cpu := cpuTime()
	defer reportCPU(b, cpu)
	for b.Loop() {
		for _, f := range files {
			tree, err := p.ParseCtx(context.Background(), nil, f.content)
			if err != nil {
				b.Fatal(err)
			}
			tree.Close()
		}
	}
	b.ReportMetric(float64(len(files)), "files/op")
}

// BenchmarkPythonStdlibParse is Parse("python") (tree-sitter plus the
// outline) over the system Python's standard library.
func BenchmarkPythonStdlibParse(b *testing.B) {
	root := os.Getenv("QF_BENCH_PYTHON_ROOT")
	if root == "" {
		matches, _ := filepath.Glob("/usr/lib/python3.*")
		if len(matches) == 0 {
			b.Skip("no Python standard library; set QF_BENCH_PYTHON_ROOT")
		}
		root = matches[len(matches)-1]
	}
	files, size := readTree(b, root, ".py")
	b.SetBytes(size)
	b.ResetTimer()
	cpu := cpuTime()
	defer reportCPU(b, cpu)
	for b.Loop() {
		for _, f := range files {
			if _, err := Parse("python", f.content); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(files)), "files/op")
}
