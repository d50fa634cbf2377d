package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/ingest"
)

func (a *app) codebasesCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "codebases",
		Short: "List the ingested codebases",
		Long: `Codebases lists what ingest runs stored, by name: the root, the number of
files ingested and skipped, symbols and chunks, and the last finished run with
its status.

-o json prints [{"name", "root", "files", "skipped", "symbols", "chunks",
"last_run": {"id", "status", "finished_at"} or null}].`,
		Example: `  enqueue codebases
  enqueue codebases -o json | jq -r '.[] | "\(.name) \(.files)"'`,
		Args: argsNamed(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			return a.codebases(cmd.Context(), output)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) codebases(ctx context.Context, output string) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	cbs, err := ingest.Codebases(ctx, client.Pool())
	if err != nil {
		return a.interrupted(ctx, err)
	}
	if output == outJSON {
		return a.printJSON(cbs)
	}
	if len(cbs) == 0 {
		fmt.Fprintln(a.stderr, "no codebases (ingest one with: enqueue ingest PATH)")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFILES\tSKIPPED\tSYMBOLS\tCHUNKS\tLAST RUN\tSTATUS\tFINISHED\tROOT")
	for _, c := range cbs {
		run, status, at := "-", "-", "-"
		if c.LastRun != nil {
			run, status, at = c.LastRun.ID, c.LastRun.Status, fmtTime(c.LastRun.FinishedAt)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", c.Name, c.Files, c.Skipped, c.Symbols, c.Chunks, run, status, at, c.Root)
	}
	return tw.Flush()
}
