package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/jobs"
)

// runChild is the whole life of a child process.
func runChild(ctx context.Context, spec *childSpec) error {
	databaseURL := os.Getenv("DATABASE_URL")
	switch spec.Role {
	case roleWorker:
		return childWorker(ctx, spec, databaseURL)
	case roleSubmit:
		return childSubmit(ctx, spec, databaseURL)
	case roleInsert:
		return childInsert(ctx, spec, databaseURL)
	case roleExec:
		return childExec(ctx, spec)
	}
	return fmt.Errorf("unknown role %q", spec.Role)
}

// childWorker runs a River client (plain or QuantumFlow) until its stdin
// closes, then stops it gracefully and reports its peak RSS.
func childWorker(ctx context.Context, spec *childSpec, databaseURL string) error {
	logger := quietLogger()
	pool, err := cliutil.OpenPool(ctx, databaseURL, cliutil.PoolOptions{MaxConns: int32(spec.PoolMaxConns), ApplicationName: spec.App})
	if err != nil {
		return err
	}
	defer pool.Close()
	id := flow.NewWorkerID()
	wc, err := newWorkerClient(pool, spec, id, logger)
	if err != nil {
		return err
	}
	var member *flow.Member
	if wc.flow != nil {
		// As cmd/worker: record the kinds and join the fleet (one heartbeat
		// transaction a second, part of the measured cost).
		if err := wc.flow.RegisterKinds(ctx, jobs.Kinds()...); err != nil {
			return fmt.Errorf("register kinds: %w", err)
		}
		if member, err = wc.flow.NewMember(flow.MemberConfig{ID: id, Queues: []string{"default"}, Kinds: jobs.Kinds(), Logger: logger}); err != nil {
			return err
		}
		if err := member.Join(ctx); err != nil {
			return fmt.Errorf("join the fleet: %w", err)
		}
	}
	memberCtx, stopMember := context.WithCancel(ctx)
	memberDone := make(chan struct{})
	go func() {
		defer close(memberDone)
		if member != nil {
			_ = member.Run(memberCtx) // returns nil when memberCtx is done
		}
	}()
	if err := wc.river.Start(ctx); err != nil {
		stopMember()
		return fmt.Errorf("start river client: %w", err)
	}
	emit(childEvent{Event: "ready"})

	// The bench closes stdin to stop us (also when it dies).
	_, _ = io.Copy(io.Discard, os.Stdin)

	stopCtx, cancel := context.WithTimeout(ctx, childStopTimeout/2)
	defer cancel()
	stopErr := wc.river.Stop(stopCtx)
	if stopErr != nil {
		_ = wc.river.StopAndCancel(context.WithoutCancel(ctx))
	}
	stopMember()
	<-memberDone
	if member != nil {
		if err := member.Leave(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("leave the fleet: %w", err)
		}
	}
	pool.Close()
	emit(childEvent{Event: "done", PeakRSSBytes: vmHWM()})
	if stopErr != nil {
		return fmt.Errorf("stop river client: %w", stopErr)
	}
	return nil
}

// childSubmit submits the spec file as 'enqueue submit FILE' does: parse,
// then flow.Client.Submit (which validates and compiles it).
func childSubmit(ctx context.Context, spec *childSpec, databaseURL string) error {
	pool, err := cliutil.OpenPool(ctx, databaseURL, cliutil.PoolOptions{ApplicationName: spec.App})
	if err != nil {
		return err
	}
	defer pool.Close()
	client, err := flow.NewClient(pool, &flow.Config{Logger: quietLogger()})
	if err != nil {
		return err
	}
	start := time.Now()
	f, err := os.Open(spec.SpecFile)
	if err != nil {
		return fmt.Errorf("open spec: %w", err)
	}
	defer f.Close()
	s, err := dag.Parse(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("parse %s: %w", spec.SpecFile, err)
	}
	if _, err := client.Submit(ctx, s, nil); err != nil {
		return fmt.Errorf("submit %s: %w", spec.SpecFile, err)
	}
	emit(childEvent{Event: "done", CallSeconds: time.Since(start).Seconds(), PeakRSSBytes: vmHWM()})
	return nil
}

// childInsert inserts N no-op jobs with River's InsertManyFast (COPY).
func childInsert(ctx context.Context, spec *childSpec, databaseURL string) error {
	pool, err := cliutil.OpenPool(ctx, databaseURL, cliutil.PoolOptions{ApplicationName: spec.App})
	if err != nil {
		return err
	}
	defer pool.Close()
	rc, err := newInsertClient(pool)
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := rc.InsertManyFast(ctx, noopParams(spec.N))
	if err != nil {
		return fmt.Errorf("insert %d jobs: %w", spec.N, err)
	}
	if n != spec.N {
		return fmt.Errorf("inserted %d jobs, want %d", n, spec.N)
	}
	emit(childEvent{Event: "done", CallSeconds: time.Since(start).Seconds(), PeakRSSBytes: vmHWM()})
	return nil
}

// childExec runs spec.Argv and reports its peak RSS from rusage. This
// small process spawns it so that the RSS Linux carries over from the
// spawning process at fork is this one's, not the bench's. The program's
// stdout (the workflow id) is dropped; its stderr is the bench's.
func childExec(ctx context.Context, spec *childSpec) error {
	if len(spec.Argv) == 0 {
		return fmt.Errorf("exec: no program")
	}
	cmd := exec.CommandContext(ctx, spec.Argv[0], spec.Argv[1:]...)
	cmd.Env = withoutEnv(os.Environ(), childEnv)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(spec.Argv, " "), err)
	}
	emit(childEvent{Event: "done", CallSeconds: time.Since(start).Seconds(), PeakRSSBytes: maxRSS(cmd.ProcessState)})
	return nil
}

// emit writes one event line on stdout.
func emit(ev childEvent) {
	b, _ := json.Marshal(ev)
	fmt.Println(string(b))
}

// quietLogger logs warnings and errors as JSON on stderr.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// vmHWM is this process's peak resident set (VmHWM in /proc/self/status),
// in bytes; 0 where /proc is missing.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
