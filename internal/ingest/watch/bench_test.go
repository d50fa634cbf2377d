package watch

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// BenchmarkWatchSetupGoroot measures Run's start on the Go standard
// library's tree ($GOROOT/src, vendor directories ignored): one watch per
// directory, until Ready.
func BenchmarkWatchSetupGoroot(b *testing.B) {
	root := filepath.Join(runtime.GOROOT(), "src")
	if _, err := os.Stat(root); err != nil {
		b.Skipf("no %s: %v", root, err)
	}
	ignore := func(rel string) bool { return strings.HasSuffix(rel, "vendor/") }
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Options{Root: root, Ignore: ignore, Ready: func() { close(ready) }}, func(Burst) error { return nil })
		}()
		select {
		case <-ready:
		case err := <-done:
			b.Fatal(err)
		}
		cancel()
		<-done
	}
}

// BenchmarkEditToBurst measures the time from a file's write to its burst
// with a 50ms debounce: the debounce plus the watch's own latency.
func BenchmarkEditToBurst(b *testing.B) {
	root := b.TempDir()
	file := filepath.Join(root, "a.go")
	bursts := make(chan Burst, 1)
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Run(ctx, Options{Root: root, Debounce: 50 * time.Millisecond, Ready: func() { close(ready) }},
		func(bu Burst) error { bursts <- bu; return nil })
	<-ready
	for b.Loop() {
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
		<-bursts
	}
}
