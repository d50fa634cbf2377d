package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/flow"
)

// pauseFlags are the flags shared by pause and resume.
type pauseFlags struct {
	queue, kind, output string
}

func (a *app) pauseCmd() *cobra.Command  { return a.pauseOrResumeCmd(true) }
func (a *app) resumeCmd() *cobra.Command { return a.pauseOrResumeCmd(false) }

func (a *app) pauseOrResumeCmd(pause bool) *cobra.Command {
	var f pauseFlags
	cmd := &cobra.Command{
		Use:   "pause ID | --queue Q | --kind K",
		Short: "Pause a workflow, a queue or a kind: nothing new starts; running nodes finish",
		Long: `Pause stops new work from starting, across the whole fleet, for one workflow
(ID), one River queue (--queue; River's own queue pause, which every worker
obeys) or one job kind (--kind, the nodes of every workflow). Running nodes
finish; their dependents wait in state paused, and jobs not yet started are
held. Resume releases what became ready. Pausing what is already paused
changes nothing and says so. -o json prints {"target", "paused", "changed",
"jobs"}.`,
		Example: `  enqueue pause 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f
  enqueue pause --queue bulk
  enqueue pause --kind embed`,
	}
	if !pause {
		cmd.Use = "resume ID | --queue Q | --kind K"
		cmd.Short = "Resume a paused workflow, queue or kind"
		cmd.Long = `Resume undoes pause: held jobs go back on their schedule, nodes that became
ready while paused get their jobs (within their concurrency limits), and a
queue is resumed with River's queue resume. Work still covered by another
pause (its workflow and its kind) waits for that one too. -o json prints
{"target", "paused", "changed", "jobs"}.`
		cmd.Example = `  enqueue resume 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f
  enqueue resume --queue bulk`
	}
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		n := len(args)
		if f.queue != "" {
			n++
		}
		if f.kind != "" {
			n++
		}
		if n != 1 || len(args) > 1 {
			return usageErr(cmd, "name exactly one of a workflow ID, --queue or --kind")
		}
		if len(args) == 1 {
			return idArg(cmd, args)
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(cmd, f.output); err != nil {
			return err
		}
		target := flow.PauseTarget{Queue: f.queue, Kind: f.kind}
		if len(args) == 1 {
			target.Workflow = args[0]
		}
		return a.pauseOrResume(cmd.Context(), target, pause, f.output)
	}
	cmd.Flags().StringVar(&f.queue, "queue", "", "pause a River queue, fleet-wide")
	cmd.Flags().StringVar(&f.kind, "kind", "", "pause every node of this job kind")
	addOutputFlag(cmd, &f.output)
	return cmd
}

func (a *app) pauseOrResume(ctx context.Context, target flow.PauseTarget, pause bool, output string) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	var res *flow.PauseResult
	if pause {
		res, err = client.Pause(ctx, target)
	} else {
		res, err = client.Resume(ctx, target)
	}
	if err != nil {
		return a.runtimeErr(ctx, err)
	}
	if output == outJSON {
		return a.printJSON(struct {
			Target  string `json:"target"`
			Paused  bool   `json:"paused"`
			Changed bool   `json:"changed"`
			Jobs    int    `json:"jobs"`
		}{target.String(), pause, res.Changed, res.Jobs})
	}
	switch {
	case pause && res.Changed:
		fmt.Fprintf(a.stdout, "paused %s (%s held)\n", target, plural(res.Jobs, "job"))
	case pause:
		fmt.Fprintf(a.stdout, "%s was already paused\n", target)
	case res.Changed:
		fmt.Fprintf(a.stdout, "resumed %s (%s released)\n", target, plural(res.Jobs, "job"))
	default:
		fmt.Fprintf(a.stdout, "%s was not paused\n", target)
	}
	return nil
}
