package syncio

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConcurrentWrites: lines written by many goroutines arrive whole, and
// reading while writing is safe (run with -race).
func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	var buf Buffer
	w := &Writer{W: &buf}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_, _ = w.Write([]byte("0123456789\n"))
				_ = buf.String()
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 800)
	for _, l := range lines {
		require.Equal(t, "0123456789", l)
	}
}
