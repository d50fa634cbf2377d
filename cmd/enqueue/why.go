package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

func (a *app) whyCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "why ID [PATH]",
		Short: "Say why each node that is not running is not running",
		Long: `Why names, for every node of the workflow that is neither running nor
finished (or for PATH and the nodes under it), what it waits for:

  deps          deps not done (which ones)
  throttled     its concurrency key is full (the key, who holds its slots)
  rate_limited  its rate key's next start (when)
  paused        its workflow, kind or queue is paused (which)
  scheduled     a delay, not_before or retry backoff (until when)
  no_worker     no live worker serves its queue or registers its kind
  queued        available; live workers serve it and will fetch it

-o json prints {"id", "nodes": [{"id", "state", "reason", "detail"}]}.`,
		Example: `  enqueue why 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f
  enqueue why 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f per-region -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				if _, err := uuid.Parse(args[0]); err != nil {
					return cliutil.WithCode(cliutil.ExitUsage,
						fmt.Errorf("%w %q: want a UUID such as 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f", flow.ErrInvalidID, args[0]))
				}
				return nil
			}
			return idArg(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			path := ""
			if len(args) == 2 {
				path = args[1]
			}
			return a.why(cmd.Context(), args[0], path, output)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) why(ctx context.Context, id, path, output string) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	rep, err := client.Why(ctx, id, path)
	if err != nil {
		return a.runtimeErr(ctx, err)
	}
	if output == outJSON {
		return a.printJSON(rep)
	}
	if len(rep.Nodes) == 0 {
		fmt.Fprintf(a.stdout, "workflow %s: every node is running or finished\n", id)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tREASON\tDETAIL")
	for _, n := range rep.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.ID, n.State, n.Reason, n.Detail)
	}
	return tw.Flush()
}
