// Package syncio has the writers that several goroutines share: a child
// process's output read while it runs, progress lines and logs interleaved
// on one stderr.
package syncio

import (
	"bytes"
	"io"
	"sync"
)

// Writer serialises writes to W, so that concurrent writers never
// interleave within one Write call.
type Writer struct {
	W  io.Writer
	mu sync.Mutex
}

// Write writes p to W under the lock.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.W.Write(p)
}

// Buffer is a bytes.Buffer that one goroutine may write while others read
// it. The zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
