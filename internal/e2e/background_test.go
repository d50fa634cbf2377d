package e2e

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/syncio"
)

// enqueueProc is an enqueue command running in the background.
type enqueueProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{}
	code int
	out  syncio.Buffer
	err  syncio.Buffer
}

// startEnqueue starts enqueue in the background, for commands that follow a
// workflow; it is killed at the end of the test if still running.
func (e *env) startEnqueue(t *testing.T, args ...string) *enqueueProc {
	t.Helper()
	return startEnqueueAt(t, e.URL, args...)
}

// startEnqueueAt is startEnqueue with DATABASE_URL=databaseURL.
func startEnqueueAt(t *testing.T, databaseURL string, args ...string) *enqueueProc {
	t.Helper()
	p := &enqueueProc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(enqueueBin, args...)
	p.cmd.Dir = moduleRoot
	p.cmd.Env = append(baseEnv(), "DATABASE_URL="+databaseURL)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	require.NoError(t, p.cmd.Start())
	go func() {
		err := p.cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			p.code = exitErr.ExitCode()
		default:
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *enqueueProc) stderr() string { return p.err.String() }

// exited reports whether the command has exited.
func (p *enqueueProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *enqueueProc) signal(sig os.Signal) {
	require.NoError(p.t, p.cmd.Process.Signal(sig))
}

// wait returns the exit code, failing the test after timeout.
func (p *enqueueProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("enqueue %s did not exit within %s:\n%s", strings.Join(p.cmd.Args[1:], " "), timeout, p.stderr())
		return 0
	}
}
