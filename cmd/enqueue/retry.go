package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/flow"
)

var retryModes = []string{string(flow.RetryFailedOnly), string(flow.RetryFailedAndDownstream), string(flow.RetryAll)}

type retryFlags struct {
	node         string
	mode         string
	wait         bool
	output       string
	pollInterval time.Duration
}

func (a *app) retryCmd() *cobra.Command {
	var f retryFlags
	cmd := &cobra.Command{
		Use:   "retry ID",
		Short: "Rerun a failed or cancelled workflow",
		Long: `Retry reruns a workflow that finished without completing, in one transaction.
--mode chooses the nodes:

  failed-only            (default) rerun failed nodes and let the nodes that were
                         cancelled or skipped because of them run again; completed
                         nodes keep their result
  failed-and-downstream  also rerun completed nodes downstream of a failed one
  all                    rerun every node

Attempt counts carry on from where they were. A workflow that is still
pending or running, or that completed, is refused (exit 1) and nothing
changes.

--node PATH reruns one failed or cancelled leaf instead, with the nodes its
failure cancelled or skipped downstream; every other node keeps its state, and
other failures still count (the workflow ends failed again if one remains). A
leaf whose dep failed is refused: retry that dep.

--wait follows the workflow to the end like submit --wait (exit 4 if it fails
again). -o json prints {"id", "mode", "nodes", "jobs"} ("node" with --node),
or with --wait the final status object.`,
		Example: `  enqueue retry "$ID"
  enqueue retry --mode all --wait "$ID"
  enqueue retry "$ID" --node per-region/b --wait`,
		Args: idArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !contains(retryModes, f.mode) {
				return usageErr(cmd, "invalid --mode %q: want %s", f.mode, strings.Join(retryModes, ", "))
			}
			if err := checkOutput(cmd, f.output); err != nil {
				return err
			}
			if f.pollInterval <= 0 {
				return usageErr(cmd, "--poll-interval must be positive (got %s)", f.pollInterval)
			}
			return a.retry(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.node, "node", "", "rerun only this failed or cancelled leaf and what its failure cancelled downstream")
	fl.StringVar(&f.mode, "mode", string(flow.RetryFailedOnly), "which nodes to rerun: "+strings.Join(retryModes, ", "))
	fl.BoolVar(&f.wait, "wait", false, "follow the workflow to the end; exit 4 if it fails again")
	addOutputFlag(cmd, &f.output)
	fl.DurationVar(&f.pollInterval, "poll-interval", pollIntervalDefault, "with --wait: how often to read the workflow's status")
	return cmd
}

func (a *app) retry(ctx context.Context, id string, f retryFlags) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	var res *flow.RetryResult
	if f.node != "" {
		res, err = client.RetryNode(ctx, id, f.node)
	} else {
		res, err = client.Retry(ctx, id, flow.RetryMode(f.mode))
	}
	se, _ := errors.AsType[*flow.StateError](err)
	switch {
	case se != nil && errors.Is(se, flow.ErrStillActive):
		return fmt.Errorf("workflow %s is still %s; nothing was retried: only a failed or cancelled workflow can be retried "+
			"(wait for it with 'enqueue wait %s' or stop it with 'enqueue cancel %s')", id, se.State, id, id)
	case errors.Is(err, flow.ErrNotRetryable):
		return fmt.Errorf("workflow %s completed; nothing to retry", id)
	case err != nil:
		return a.runtimeErr(ctx, err)
	}
	switch {
	case f.output == outText && f.node != "":
		fmt.Fprintf(a.stdout, "retrying node %s of workflow %s: %s reset, %s enqueued\n", f.node, id, plural(res.Nodes, "node"), plural(res.Jobs, "job"))
	case f.output == outText:
		fmt.Fprintf(a.stdout, "retrying workflow %s (%s): %s reset, %s enqueued\n", id, f.mode, plural(res.Nodes, "node"), plural(res.Jobs, "job"))
	case !f.wait && f.node != "":
		return a.printJSON(struct {
			ID    string `json:"id"`
			Node  string `json:"node"`
			Nodes int    `json:"nodes"`
			Jobs  int    `json:"jobs"`
		}{id, f.node, res.Nodes, res.Jobs})
	case !f.wait:
		return a.printJSON(struct {
			ID    string `json:"id"`
			Mode  string `json:"mode"`
			Nodes int    `json:"nodes"`
			Jobs  int    `json:"jobs"`
		}{id, f.mode, res.Nodes, res.Jobs})
	}
	if !f.wait {
		return nil
	}
	return a.follow(ctx, client, id, f.pollInterval, f.output)
}
