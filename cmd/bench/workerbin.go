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
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// --worker-defaults: the wide shape runs a third phase whose worker is the
// real cmd/worker binary started with no tuning flags at all, so that the
// report shows what an operator gets out of the box beside the bench's tuned
// configuration, in the same run.

// workerBinArgs are the only flags the defaults phase passes: none of them
// tunes the worker. Port 0 keeps the metrics server (as by default) without
// colliding with another worker; JSON logs let the bench see "worker
// started".
var workerBinArgs = []string{"--metrics-addr", "127.0.0.1:0", "--log-format", "json"}

// buildWorkerBin builds ./cmd/worker of the module the bench runs in into
// dir, for --worker-defaults without --worker-bin.
func buildWorkerBin(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("--worker-defaults: %w; pass --worker-bin", err)
	}
	out := filepath.Join(dir, "worker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/worker")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("--worker-defaults: go build ./cmd/worker in %s: %v\n%s(pass --worker-bin)", root, err, b)
	}
	return out, nil
}

// moduleRoot walks up from the working directory to QuantumFlow's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/quantumflow/quantumflow\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no QuantumFlow go.mod above %s", dir)
		}
	}
}

// signalCloser stands in for a child's stdin: closing it sends SIGTERM,
// which is how cmd/worker is told to stop.
type signalCloser struct{ p *os.Process }

func (s signalCloser) Write(b []byte) (int, error) { return len(b), nil }
func (s signalCloser) Close() error {
	if err := s.p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// startWorkerBin starts the worker binary bin on databaseURL with no tuning
// flags (and no QF_ variables), as a child: it reports "ready" once the
// worker logs "worker started", and stops on SIGTERM. Its warnings and
// errors go to stderr.
func startWorkerBin(bin, databaseURL, app string, stderr io.Writer) (*child, error) {
	cmd := exec.Command(bin, workerBinArgs...)
	var env []string
	for _, kv := range withoutEnv(os.Environ(), childEnv, "DATABASE_URL", "PGAPPNAME") {
		if !strings.HasPrefix(kv, "QF_") {
			env = append(env, kv)
		}
	}
	// PGAPPNAME names the worker's sessions, so that statistics snapshots
	// wait for them to end (it wins over the worker's own name).
	cmd.Env = append(env, "DATABASE_URL="+databaseURL, "PGAPPNAME="+app)
	setProcessGroup(cmd)
	logs, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, events: make(chan childEvent, 64), exited: make(chan struct{}), start: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	c.stdin = signalCloser{cmd.Process}
	go func() {
		sc := bufio.NewScanner(logs)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var rec struct {
				Msg   string `json:"msg"`
				Level string `json:"level"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				fmt.Fprintln(stderr, "bench worker:", sc.Text())
				continue
			}
			switch {
			case rec.Msg == "worker started":
				c.events <- childEvent{Event: "ready"}
			case rec.Level == "WARN" || rec.Level == "ERROR":
				fmt.Fprintln(stderr, "bench worker:", sc.Text())
			}
		}
		close(c.events)
		c.err = cmd.Wait()
		c.wall = time.Since(c.start)
		close(c.exited)
	}()
	return c, nil
}
