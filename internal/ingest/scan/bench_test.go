package scan

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkScanGoroot scans the Go standard library's source tree
// ($GOROOT/src, about 11 500 files, 157 MB), the corpus the ingestion goals
// are measured on.
func BenchmarkScanGoroot(b *testing.B) {
	root := filepath.Join(runtime.GOROOT(), "src")
	if _, err := os.Stat(root); err != nil {
		b.Skipf("no %s: %v", root, err)
	}
	var res *Result
	for b.Loop() {
		var err error
		if res, err = Scan(context.Background(), Options{Root: root}); err != nil {
			b.Fatal(err)
		}
	}
	reasons := map[string]int{}
	for _, s := range res.Skipped {
		reasons[s.Reason]++
	}
	var bytes int64
	for _, f := range res.Files {
		bytes += f.Size
	}
	b.ReportMetric(float64(len(res.Files)), "files")
	b.ReportMetric(float64(len(res.Skipped)), "skips")
	b.Logf("kept %d files (%d bytes), skipped %d: %v", len(res.Files), bytes, len(res.Skipped), reasons)
}
