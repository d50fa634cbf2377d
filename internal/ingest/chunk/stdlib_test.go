package chunk_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/ingest/chunk"
	"github.com/quantumflow/quantumflow/internal/ingest/embed"
	"github.com/quantumflow/quantumflow/internal/ingest/tokens"
)

// BenchmarkStdlib runs this helper's share of the per-file steps (chunk,
// tokens.ForIndex, Hashing embedding) over every .go file of the Go
// standard library, the corpus, on one core, and reports the time
// of each and the number of chunks. Spans are the top-level declarations
// as go/parser gives them (a const or var block is one span per spec with
// names, a func one span). Run it once:
//
//	go test -run XXX -bench Stdlib -benchtime 1x ./internal/ingest/chunk/
func BenchmarkStdlib(b *testing.B) {
	type file struct {
		content []byte
		spans   []chunk.Span
	}
	var files []file
	root := filepath.Join(runtime.GOROOT(), "src")
	var bytes int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, content, parser.SkipObjectResolution)
		var spans []chunk.Span
		if err == nil {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					spans = append(spans, chunk.Span{Name: d.Name.Name, Kind: "function",
						StartLine: fset.Position(d.Pos()).Line, EndLine: fset.Position(d.End()).Line})
				case *ast.GenDecl:
					for _, s := range d.Specs {
						name := ""
						switch s := s.(type) {
						case *ast.TypeSpec:
							name = s.Name.Name
						case *ast.ValueSpec:
							name = s.Names[0].Name
						default:
							continue
						}
						spans = append(spans, chunk.Span{Name: name, Kind: d.Tok.String(),
							StartLine: fset.Position(s.Pos()).Line, EndLine: fset.Position(s.End()).Line})
					}
				}
			}
		}
		files = append(files, file{content, spans})
		bytes += len(content)
		return nil
	})
	require.NoError(b, err)
	h := embed.NewHashing(0)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		var tSplit, tIndex, tEmbed time.Duration
		nChunks, chunkBytes := 0, 0
		for _, f := range files {
			t0 := time.Now()
			cs := chunk.Split(f.content, f.spans)
			t1 := time.Now()
			texts := make([]string, len(cs))
			for i, c := range cs {
				_ = tokens.ForIndex(c.Content)
				texts[i] = c.Content
				chunkBytes += len(c.Content)
			}
			t2 := time.Now()
			_, _ = h.Embed(ctx, texts)
			t3 := time.Now()
			tSplit += t1.Sub(t0)
			tIndex += t2.Sub(t1)
			tEmbed += t3.Sub(t2)
			nChunks += len(cs)
		}
		b.ReportMetric(float64(len(files)), "files")
		b.ReportMetric(float64(bytes)/1e6, "MB")
		b.ReportMetric(float64(nChunks), "chunks")
		b.ReportMetric(float64(chunkBytes)/1e6, "chunkMB")
		b.ReportMetric(tSplit.Seconds(), "split-s")
		b.ReportMetric(tIndex.Seconds(), "forindex-s")
		b.ReportMetric(tEmbed.Seconds(), "embed-s")
	}
}
