package main

import (
	"time"

	"github.com/spf13/cobra"
)

func (a *app) waitCmd() *cobra.Command {
	var (
		output       string
		pollInterval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait ID",
		Short: "Follow a workflow to the end",
		Long: `Wait follows an existing workflow to the end, like submit --wait: a progress
bar on a terminal, else a line every 2 s. It exits 0 when the workflow
completed and 4 when it failed or was cancelled, naming the failed nodes on
stderr; a workflow that is already final is reported at once. -o json prints
the final status object (as status -o json) on stdout.

Ctrl-C (or --timeout) stops following and exits 1; the workflow goes on.`,
		Example: `  enqueue wait "$ID" && echo done
  enqueue wait --timeout 10m -o json "$ID" > final.json`,
		Args: idArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			if pollInterval <= 0 {
				return usageErr(cmd, "--poll-interval must be positive (got %s)", pollInterval)
			}
			client, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			return a.follow(cmd.Context(), client, args[0], pollInterval, output)
		},
	}
	addOutputFlag(cmd, &output)
	cmd.Flags().DurationVar(&pollInterval, "poll-interval", pollIntervalDefault, "how often to read the workflow's status")
	return cmd
}
