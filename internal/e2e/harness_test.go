package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// Built once by TestMain.
var (
	moduleRoot string // the directory holding go.mod
	enqueueBin string
	workerBin  string
)

// envSlots bounds the tests that hold a schema and workers at once: the
// server's max_connections (100) is shared by every package's tests.
var envSlots = make(chan struct{}, 3)

// Limits of one test's processes.
const (
	commandTimeout    = 2 * time.Minute  // one enqueue invocation
	workerStartup     = 30 * time.Second // until the worker logs its address
	workerStopTimeout = 15 * time.Second // SIGTERM, then SIGKILL
	workerPoolConns   = "5"              // keep each worker's pool small
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	root, err := findModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	moduleRoot = root
	dir, err := os.MkdirTemp("", "qf-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(goTool(), "build", "-o", dir+string(filepath.Separator), "./cmd/enqueue", "./cmd/worker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/enqueue ./cmd/worker in %s failed: %v\n%s", root, err, out)
		return 1
	}
	enqueueBin = filepath.Join(dir, "enqueue")
	workerBin = filepath.Join(dir, "worker")
	return m.Run()
}

// findModuleRoot walks up from the working directory to go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// goTool is the go command that runs the tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// env is one test's database: a fresh, migrated schema.
type env struct {
	*pgtest.DB
	t *testing.T
}

// newEnv takes one of envSlots (released at cleanup) and creates a schema.
func newEnv(t *testing.T) *env {
	t.Helper()
	envSlots <- struct{}{}
	t.Cleanup(func() { <-envSlots })
	return &env{DB: pgtest.New(t), t: t}
}

// result is a finished enqueue run.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// enqueue runs the enqueue binary against the test's schema.
func (e *env) enqueue(args ...string) result {
	e.t.Helper()
	return runEnqueue(e.t, []string{"DATABASE_URL=" + e.URL}, nil, args...)
}

// enqueueStdin is enqueue with stdin.
func (e *env) enqueueStdin(stdin string, args ...string) result {
	e.t.Helper()
	return runEnqueue(e.t, []string{"DATABASE_URL=" + e.URL}, strings.NewReader(stdin), args...)
}

// runEnqueue runs the enqueue binary with the environment of the tests minus
// DATABASE_URL, plus extraEnv, bounded by commandTimeout.
func runEnqueue(t *testing.T, extraEnv []string, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, enqueueBin, args...)
	cmd.Dir = moduleRoot
	cmd.Env = append(baseEnv(), extraEnv...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("enqueue %s: no exit within %s\n%s", strings.Join(args, " "), commandTimeout, res)
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("enqueue %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// baseEnv is the test process's environment without the variables that
// would point the commands elsewhere.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "QF_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// workerProc is a running worker binary.
type workerProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	code int           // exit code, once done

	mu       sync.Mutex
	log      bytes.Buffer
	metrics  string
	addrSeen chan struct{}
}

// startWorker starts a worker on the test's schema with small pools and
// JSON logs (startWorkerProc), and waits until it serves its metrics
// address.
func (e *env) startWorker(t *testing.T, extraArgs ...string) *workerProc {
	t.Helper()
	return e.startWorkerEnv(t, nil, extraArgs...)
}

// startWorkerEnv is startWorker with extra environment variables.
func (e *env) startWorkerEnv(t *testing.T, extraEnv []string, extraArgs ...string) *workerProc {
	t.Helper()
	args := append([]string{
		"--metrics-addr", "127.0.0.1:0",
		"--log-format", "json",
		"--queues", "default=20",
		"--pool-max-conns", workerPoolConns,
		"--shutdown-grace", "5s",
	}, extraArgs...)
	w := startWorkerProcEnv(t, e.URL, extraEnv, args...)
	w.waitListening(t)
	return w
}

// startWorkerProc starts the worker binary on url with args, keeping its
// log; it is stopped (SIGTERM, then SIGKILL) when the test ends, and its log
// is shown if the test failed.
func startWorkerProc(t *testing.T, url string, args ...string) *workerProc {
	t.Helper()
	return startWorkerProcEnv(t, url, nil, args...)
}

// startWorkerProcEnv is startWorkerProc with extra environment variables.
func startWorkerProcEnv(t *testing.T, url string, extraEnv []string, args ...string) *workerProc {
	t.Helper()
	cmd := exec.Command(workerBin, args...)
	cmd.Dir = moduleRoot
	cmd.Env = append(append(baseEnv(), "DATABASE_URL="+url), extraEnv...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	w := &workerProc{t: t, cmd: cmd, done: make(chan struct{}), addrSeen: make(chan struct{})}
	require.NoError(t, cmd.Start())

	logRead := make(chan struct{})
	go func() {
		defer close(logRead)
		w.readLog(stderr)
	}()
	go func() {
		<-logRead // Wait closes the pipe: read it to the end first
		err := cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			w.code = exitErr.ExitCode()
		default:
			w.code = -1
		}
		close(w.done)
	}()
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			t.Logf("worker %d log:\n%s", cmd.Process.Pid, w.stderr())
		}
	})
	return w
}

// waitListening waits until the worker logged its metrics address, failing
// the test if it exits or takes longer than workerStartup.
func (w *workerProc) waitListening(t *testing.T) {
	t.Helper()
	select {
	case <-w.addrSeen:
	case <-w.done:
		t.Fatalf("worker exited with %d before listening:\n%s", w.code, w.stderr())
	case <-time.After(workerStartup):
		t.Fatalf("worker logged no listening address within %s:\n%s", workerStartup, w.stderr())
	}
}

// readLog keeps the worker's stderr and spots the line that announces the
// metrics address: {"msg": "listening", "addr": "127.0.0.1:PORT"}.
func (w *workerProc) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		w.mu.Lock()
		w.log.Write(line)
		w.log.WriteByte('\n')
		if w.metrics == "" {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && strings.Contains(rec.Msg, "listening") && rec.Addr != "" {
				w.metrics = rec.Addr
				close(w.addrSeen)
			}
		}
		w.mu.Unlock()
	}
}

// addr is the address serving /metrics, /healthz and /readyz.
func (w *workerProc) addr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.metrics
}

// stderr is everything the worker logged so far.
func (w *workerProc) stderr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.String()
}

// signal sends sig to the worker; a worker that has exited is left alone.
func (w *workerProc) signal(sig os.Signal) {
	select {
	case <-w.done:
		return
	default:
	}
	if err := w.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		w.t.Errorf("signal %v to worker: %v", sig, err)
	}
}

// kill ends the worker at once (SIGKILL), as a crash would.
func (w *workerProc) kill() { w.signal(syscall.SIGKILL) }

// wait waits for the worker to exit and returns its exit code (-1 for a
// death by signal); it fails the test after timeout.
func (w *workerProc) wait(timeout time.Duration) int {
	w.t.Helper()
	select {
	case <-w.done:
		return w.code
	case <-time.After(timeout):
		w.t.Fatalf("worker did not exit within %s:\n%s", timeout, w.stderr())
		return 0
	}
}

// stop ends the worker gracefully, escalating to SIGKILL.
func (w *workerProc) stop() {
	w.signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(workerStopTimeout):
		w.t.Errorf("worker ignored SIGTERM for %s; killing it", workerStopTimeout)
		w.kill()
		<-w.done
	}
}

// waitFor polls cond every 50 ms until it holds, failing the test with what
// after timeout. It never passes on time alone.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// statusJSON runs `enqueue status -o json ID` and decodes it generically, so
// that tests see the JSON as a script would.
func (e *env) statusJSON(id string) map[string]any {
	e.t.Helper()
	r := e.enqueue("status", "-o", "json", id)
	require.Equal(e.t, 0, r.code, "status -o json:\n%s", r)
	var st map[string]any
	require.NoError(e.t, json.Unmarshal([]byte(r.stdout), &st), "status -o json is one JSON object:\n%s", r.stdout)
	return st
}

// submit submits a spec file (relative to the module root, or absolute) and
// returns the workflow id.
func (e *env) submit(file string, args ...string) string {
	e.t.Helper()
	r := e.enqueue(append([]string{"submit", file}, args...)...)
	require.Equal(e.t, 0, r.code, "submit %s:\n%s", file, r)
	id := strings.TrimSpace(r.stdout)
	require.Regexp(e.t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, id, "submit prints the id alone")
	return id
}

// writeFile writes a spec into the test's temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}
