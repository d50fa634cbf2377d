package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/flow"
)

func (a *app) cancelCmd() *cobra.Command {
	var output, node string
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a pending or running workflow",
		Long: `Cancel stops a workflow in one transaction: waiting nodes never start, queued
jobs are cancelled, running jobs are asked to stop (their context is
cancelled), and the workflow becomes cancelled. It prints how many nodes and
jobs it cancelled; -o json prints {"id", "nodes", "jobs"}.

Cancelling a workflow that already finished changes nothing, says so with the
workflow's status, and exits 1.

--node PATH cancels one leaf instead, wherever it is (waiting, throttled,
paused, queued or running): it becomes cancelled, its dependents follow their
on_dep_failure policy, and the rest of the workflow goes on. A node that
already finished, or a group, is refused (exit 1).`,
		Example: `  enqueue cancel 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f
  enqueue cancel 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f --node per-region/b`,
		Args: idArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			if node != "" {
				return a.cancelNode(cmd.Context(), args[0], node, output)
			}
			return a.cancelWorkflow(cmd.Context(), args[0], output)
		},
	}
	addOutputFlag(cmd, &output)
	cmd.Flags().StringVar(&node, "node", "", "cancel only this leaf (its path, e.g. per-region/b)")
	return cmd
}

func (a *app) cancelNode(ctx context.Context, id, path, output string) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	res, err := client.CancelNode(ctx, id, path)
	if err != nil {
		return a.runtimeErr(ctx, err)
	}
	if output == outJSON {
		return a.printJSON(struct {
			ID    string `json:"id"`
			Node  string `json:"node"`
			Nodes int    `json:"nodes"`
			Jobs  int    `json:"jobs"`
		}{id, path, res.Nodes, res.Jobs})
	}
	fmt.Fprintf(a.stdout, "cancelled node %s of workflow %s (%s stopped)\n", path, id, plural(res.Jobs, "job"))
	return nil
}

func (a *app) cancelWorkflow(ctx context.Context, id, output string) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	res, err := client.Cancel(ctx, id)
	if se, ok := errors.AsType[*flow.StateError](err); ok && errors.Is(se, flow.ErrAlreadyFinished) {
		return fmt.Errorf("workflow %s already finished (%s); nothing was cancelled", id, se.State)
	}
	if err != nil {
		return a.runtimeErr(ctx, err)
	}
	if output == outJSON {
		return a.printJSON(struct {
			ID    string `json:"id"`
			Nodes int    `json:"nodes"`
			Jobs  int    `json:"jobs"`
		}{id, res.Nodes, res.Jobs})
	}
	fmt.Fprintf(a.stdout, "cancelled workflow %s: %s (%s stopped)\n", id, plural(res.Nodes, "node"), plural(res.Jobs, "job"))
	return nil
}
