// Package jobs holds the job kinds that every QuantumFlow worker registers:
// noop, sleep, fail and echo (tests and benchmarks use them). Each is an
// ordinary River worker; inside a workflow, the flow middleware completes its
// node. Submit accepts these kinds without a worker having registered them
// (flow reads Kinds). Being part of the engine, they reach the node through
// its internal packages; a kind of your own uses flow's node helpers
// (flow.Input, flow.SetOutput, ...), as examples/customworker does.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/internal/noderun"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// Register adds the built-in workers to workers. It returns an error if one
// of the kinds is already registered.
func Register(workers *river.Workers) error {
	for _, add := range []func() error{
		func() error { return river.AddWorkerSafely(workers, &NoopWorker{}) },
		func() error { return river.AddWorkerSafely(workers, &SleepWorker{}) },
		func() error { return river.AddWorkerSafely(workers, &FailWorker{}) },
		func() error { return river.AddWorkerSafely(workers, &EchoWorker{}) },
	} {
		if err := add(); err != nil {
			return fmt.Errorf("register built-in kinds: %w", err)
		}
	}
	return nil
}

// NoopArgs are the args of kind "noop", which does nothing.
type NoopArgs struct{}

// Kind is "noop".
func (NoopArgs) Kind() string { return "noop" }

// NoopWorker works "noop" jobs.
type NoopWorker struct {
	river.WorkerDefaults[NoopArgs]
}

// Timeout is the node's timeout (as flow.JobTimeout), so River's deadline and
// rescuer follow it; 0 outside a workflow or without one.
func (*NoopWorker) Timeout(job *river.Job[NoopArgs]) time.Duration {
	return riverjob.Timeout(job.JobRow)
}

// Work does nothing.
func (*NoopWorker) Work(context.Context, *river.Job[NoopArgs]) error { return nil }

// SleepArgs are the args of kind "sleep".
type SleepArgs struct {
	// MS is how long to sleep, in milliseconds.
	MS int `json:"ms"`
}

// Kind is "sleep".
func (SleepArgs) Kind() string { return "sleep" }

// SleepWorker works "sleep" jobs.
type SleepWorker struct {
	river.WorkerDefaults[SleepArgs]
}

// Timeout is the node's timeout (as flow.JobTimeout), so River's deadline and
// rescuer follow it; 0 outside a workflow or without one.
func (*SleepWorker) Timeout(job *river.Job[SleepArgs]) time.Duration {
	return riverjob.Timeout(job.JobRow)
}

// Work sleeps for MS milliseconds, or until its context is cancelled (a
// timeout, a cancel, a shutdown), in which case it returns the context's
// error.
func (*SleepWorker) Work(ctx context.Context, job *river.Job[SleepArgs]) error {
	if job.Args.MS < 0 {
		return river.JobCancel(fmt.Errorf("sleep: ms must not be negative (got %d)", job.Args.MS))
	}
	t := time.NewTimer(time.Duration(job.Args.MS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sleep interrupted: %w", context.Cause(ctx))
	}
}

// FailArgs are the args of kind "fail".
type FailArgs struct {
	// Times is how many attempts fail before one succeeds; -1 fails every
	// attempt. Inside a workflow attempts are counted across retries of
	// the workflow.
	Times int `json:"times"`
}

// Kind is "fail".
func (FailArgs) Kind() string { return "fail" }

// FailWorker works "fail" jobs.
type FailWorker struct {
	river.WorkerDefaults[FailArgs]
}

// Timeout is the node's timeout (as flow.JobTimeout), so River's deadline and
// rescuer follow it; 0 outside a workflow or without one.
func (*FailWorker) Timeout(job *river.Job[FailArgs]) time.Duration {
	return riverjob.Timeout(job.JobRow)
}

// ErrPlannedFailure is the error of a failing "fail" attempt.
var ErrPlannedFailure = errors.New("planned failure")

// Work fails the first Times attempts and succeeds afterwards.
func (*FailWorker) Work(ctx context.Context, job *river.Job[FailArgs]) error {
	attempt := job.Attempt
	if run, err := noderun.From(ctx); err == nil {
		attempt = run.Attempt()
	}
	if job.Args.Times < 0 || attempt <= job.Args.Times {
		return fmt.Errorf("fail: attempt %d (times %d): %w", attempt, job.Args.Times, ErrPlannedFailure)
	}
	return nil
}

// EchoArgs are the args of kind "echo": any JSON object, kept as is.
type EchoArgs struct {
	Raw json.RawMessage `json:"-"`
}

// Kind is "echo".
func (EchoArgs) Kind() string { return "echo" }

// MarshalJSON encodes the raw args.
func (a EchoArgs) MarshalJSON() ([]byte, error) {
	if len(a.Raw) == 0 {
		return []byte("{}"), nil
	}
	return a.Raw, nil
}

// UnmarshalJSON keeps the raw args.
func (a *EchoArgs) UnmarshalJSON(b []byte) error {
	a.Raw = append(a.Raw[:0], b...)
	return nil
}

// EchoWorker works "echo" jobs.
type EchoWorker struct {
	river.WorkerDefaults[EchoArgs]
}

// Timeout is the node's timeout (as flow.JobTimeout), so River's deadline and
// rescuer follow it; 0 outside a workflow or without one.
func (*EchoWorker) Timeout(job *river.Job[EchoArgs]) time.Duration {
	return riverjob.Timeout(job.JobRow)
}

// EchoOutput is the output of an "echo" node.
type EchoOutput struct {
	Args  json.RawMessage            `json:"args"`
	Input json.RawMessage            `json:"input"`
	Deps  map[string]json.RawMessage `json:"deps"`
}

// Work records {"args": ..., "input": <workflow input>, "deps": {...}} as
// its output, deps as flow.DepOutputs returns it: every completed dep,
// null for one without output. Outside a workflow, input is {} and deps is
// empty.
func (*EchoWorker) Work(ctx context.Context, job *river.Job[EchoArgs]) error {
	out := EchoOutput{Args: job.Args.Raw, Input: json.RawMessage("{}"), Deps: map[string]json.RawMessage{}}
	run, err := noderun.From(ctx)
	if err != nil {
		return river.RecordOutput(ctx, out)
	}
	input, deps, err := run.Load(ctx)
	if err != nil {
		return err
	}
	out.Input, out.Deps = input, deps
	if out.Deps == nil {
		out.Deps = map[string]json.RawMessage{}
	}
	return run.SetOutput(out)
}

// Kinds returns the built-in kinds, sorted: the kinds Register adds. flow
// accepts them at submit without a worker having registered them; a worker
// that registers them passes them in flow.WorkerConfig.Kinds.
func Kinds() []string {
	return []string{EchoArgs{}.Kind(), FailArgs{}.Kind(), NoopArgs{}.Kind(), SleepArgs{}.Kind()}
}
