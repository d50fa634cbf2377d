//go:build unix

package lang

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used: on a
// shared machine the stable figure ("cpu-ns/op"), where wall-clock swings.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type corpusFile struct {
	path    string
	content []byte
}

// goSrc reads every regular file under $(go env GOROOT)/src, the corpus
// the ingestion goals are measured on.
func goSrc(b *testing.B) []corpusFile {
	b.Helper()
	root := filepath.Join(runtime.GOROOT(), "src")
	var files []corpusFile
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files = append(files, corpusFile{rel, content})
		return nil
	})
	if err != nil || len(files) == 0 {
		b.Skipf("no Go source tree at %s: %v", root, err)
	}
	return files
}

// BenchmarkDetectGoSrc runs Detect over every file of the Go source tree
// (one op = the whole tree).
func BenchmarkDetectGoSrc(b *testing.B) {
	files := goSrc(b)
	b.ResetTimer()
	cpu := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op") }()
	for b.Loop() {
		for _, f := range files {
			Detect(f.path, f.content)
		}
	}
	b.ReportMetric(float64(len(files)), "files/op")
}

// BenchmarkValidateGoSrc runs Validate over every file of the Go source
// tree (one op = the whole tree).
func BenchmarkValidateGoSrc(b *testing.B) {
	files := goSrc(b)
	b.ResetTimer()
	cpu := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op") }()
	for b.Loop() {
		for _, f := range files {
			Validate(f.path, f.content)
		}
	}
	b.ReportMetric(float64(len(files)), "files/op")
}
