package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// childEnv carries a child's childSpec (JSON); its presence makes the
// binary a child instead of the bench.
const childEnv = "QFBENCH_CHILD"

// Roles of a child process.
const (
	roleWorker = "worker" // a River client working the default queue
	roleSubmit = "submit" // flow.Submit of a spec file, then exit
	roleInsert = "insert" // River InsertManyFast of N no-op jobs, then exit
	roleExec   = "exec"   // run Argv (an enqueue binary) and report its peak RSS
)

// Modes of a worker: plain River, or River with QuantumFlow's middleware.
const (
	modeRiver       = "river"
	modeQuantumFlow = "quantumflow"
)

// Bounds of a child's life as seen by the bench.
const (
	childStartTimeout = 60 * time.Second
	childStopTimeout  = 30 * time.Second
)

// childSpec tells a child what to do. The database URL travels in
// DATABASE_URL, never on the command line.
type childSpec struct {
	Role              string        `json:"role"`
	Mode              string        `json:"mode,omitempty"`
	App               string        `json:"app"`
	MaxWorkers        int           `json:"max_workers,omitempty"`
	PoolMaxConns      int           `json:"pool_max_conns,omitempty"`
	FetchCooldown     time.Duration `json:"fetch_cooldown,omitempty"`
	FetchPollInterval time.Duration `json:"fetch_poll_interval,omitempty"`
	BatchMax          int           `json:"completion_batch_max,omitempty"`
	SpecFile          string        `json:"spec_file,omitempty"`
	N                 int           `json:"n,omitempty"`
	Argv              []string      `json:"argv,omitempty"`
}

// childEvent is one line a child writes on stdout: "ready" once a worker
// works, "done" at the end with what it measured.
type childEvent struct {
	Event string `json:"event"`
	// CallSeconds is the duration of the measured call (submit, insert).
	CallSeconds float64 `json:"call_s,omitempty"`
	// PeakRSSBytes is VmHWM from /proc/self/status where available (for
	// roleExec: its program's maximum RSS from rusage).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
}

func childSpecFromEnv() (*childSpec, bool) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return nil, false
	}
	var s childSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintf(os.Stderr, "bench child: bad %s: %v\n", childEnv, err)
		os.Exit(2)
	}
	return &s, true
}

// child is a running child process, seen from the bench.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan childEvent
	exited chan struct{} // closed when the process has exited
	err    error         // Wait's error, set before exited is closed
	start  time.Time
	wall   time.Duration // start to exit
	last   childEvent
}

// startChild starts this binary as a child with spec and databaseURL. Its
// stderr goes to stderr.
func startChild(spec childSpec, databaseURL string, stderr io.Writer) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench binary: %w", err)
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	// PGAPPNAME names the child's sessions (also an external enqueue's), so
	// that statistics snapshots wait for them to end.
	cmd.Env = append(withoutEnv(os.Environ(), childEnv, "DATABASE_URL", "PGAPPNAME"),
		childEnv+"="+string(raw), "DATABASE_URL="+databaseURL, "PGAPPNAME="+spec.App)
	cmd.Stderr = stderr
	// Its own process group: Ctrl-C in a terminal reaches only the bench,
	// which then stops its children in order.
	setProcessGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// Children write two events at most; the buffer keeps the reader from
	// ever blocking, so it always reaches Wait.
	c := &child{cmd: cmd, stdin: stdin, events: make(chan childEvent, 64), exited: make(chan struct{}), start: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s child: %w", spec.Role, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev childEvent
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event != "" {
				c.events <- ev
			} else if line := strings.TrimSpace(sc.Text()); line != "" {
				fmt.Fprintln(stderr, "bench child:", line)
			}
		}
		close(c.events)
		// Wait closes stdout: only after every line was read.
		c.err = cmd.Wait()
		c.wall = time.Since(c.start)
		close(c.exited)
	}()
	return c, nil
}

// waitEvent waits for the child's next event named name.
func (c *child) waitEvent(ctx context.Context, name string, timeout time.Duration) (childEvent, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				<-c.exited
				return childEvent{}, fmt.Errorf("child exited before %q: %v", name, c.err)
			}
			c.last = ev
			if ev.Event == name {
				return ev, nil
			}
		case <-t.C:
			return childEvent{}, fmt.Errorf("child did not report %q within %s", name, timeout)
		case <-ctx.Done():
			return childEvent{}, context.Cause(ctx)
		}
	}
}

// stop closes the child's stdin (a worker then stops its River client and
// exits) and waits for it; past childStopTimeout it is killed. It returns
// the child's peak RSS.
func (c *child) stop() (int64, error) {
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(childStopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return 0, fmt.Errorf("child did not stop within %s; killed", childStopTimeout)
	}
	// Drain the events: the last one carries the child's own measurements.
	for ev := range c.events {
		c.last = ev
	}
	if c.err != nil {
		return 0, fmt.Errorf("child failed: %w", c.err)
	}
	return c.peakRSS(), nil
}

// cpu is the CPU time (user and system) of the exited child.
func (c *child) cpu() time.Duration {
	ps := c.cmd.ProcessState
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

// kill ends the child at once; a no-op when it has exited.
func (c *child) kill() {
	select {
	case <-c.exited:
	default:
		_ = c.stdin.Close()
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// peakRSS is the child's peak resident set: what it reported (VmHWM), else
// the kernel's account of the exited process (rusage). The latter is only
// an upper bound here: Linux carries the parent's RSS at fork into the
// child's ru_maxrss across exec, and the bench's own RSS is large after it
// submitted 100 000 nodes.
func (c *child) peakRSS() int64 {
	if c.last.PeakRSSBytes > 0 {
		return c.last.PeakRSSBytes
	}
	return maxRSS(c.cmd.ProcessState)
}

// runToEnd runs a child that does its work and exits (submit, insert,
// exec), returning its wall time, its own measurement and its peak RSS.
func runToEnd(ctx context.Context, spec childSpec, databaseURL string, stderr io.Writer) (wall time.Duration, ev childEvent, rss int64, cpu time.Duration, err error) {
	c, err := startChild(spec, databaseURL, stderr)
	if err != nil {
		return 0, ev, 0, 0, err
	}
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-ctx.Done():
		c.kill()
		return 0, ev, 0, 0, context.Cause(ctx)
	}
	for e := range c.events {
		c.last = e
	}
	if c.err != nil {
		return 0, ev, 0, 0, fmt.Errorf("%s child failed: %w", spec.Role, c.err)
	}
	return c.wall, c.last, c.peakRSS(), c.cpu(), nil
}

func withoutEnv(environ []string, names ...string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// errChildExited is returned when a worker exits while its phase runs.
var errChildExited = errors.New("worker process exited during the phase")
