package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
)

// listLimitDefault is how many workflows list shows by default.
const listLimitDefault = 100

// workflowStatuses are the values --status takes.
var workflowStatuses = func() []string {
	var out []string
	for _, s := range flowtype.WorkflowStates() {
		out = append(out, string(s))
	}
	return out
}()

type listFlags struct {
	status string
	limit  int
	output string
}

func (a *app) listCmd() *cobra.Command {
	var f listFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workflows, newest first",
		Long: `List shows workflows, newest first: an aligned table of id, name, status,
node count, creation time and duration (or age, while it runs), or with
-o json a JSON array of {"id", "name", "key", "status", "nodes", "created_at",
"started_at", "finished_at"} objects ("key" only when set).`,
		Example: `  enqueue list
  enqueue list --status failed --limit 10
  enqueue list -o json | jq -r '.[] | select(.status == "running") | .id'`,
		Args: argsNamed(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(cmd, f.output); err != nil {
				return err
			}
			if f.status != "" && !contains(workflowStatuses, f.status) {
				return usageErr(cmd, "invalid --status %q: want one of %v", f.status, workflowStatuses)
			}
			if f.limit < 1 {
				return usageErr(cmd, "--limit must be at least 1 (got %d)", f.limit)
			}
			return a.list(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.status, "status", "", "only workflows in this status: pending, running, completed, failed or cancelled")
	cmd.Flags().IntVar(&f.limit, "limit", listLimitDefault, "at most this many workflows")
	addOutputFlag(cmd, &f.output)
	return cmd
}

func (a *app) list(ctx context.Context, f listFlags) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	rows, err := client.List(ctx, &flow.ListParams{Status: flowtype.WorkflowState(f.status), Limit: f.limit})
	if err != nil {
		return a.runtimeErr(ctx, err)
	}
	if f.output == outJSON {
		if rows == nil {
			rows = []flow.WorkflowSummary{} // [] rather than null
		}
		return a.printJSON(rows)
	}
	if len(rows) == 0 {
		what := "workflows"
		if f.status != "" {
			what = f.status + " workflows"
		}
		fmt.Fprintf(a.stderr, "no %s\n", what)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tNODES\tCREATED\tDURATION")
	for _, r := range rows {
		dur := ""
		if r.FinishedAt != nil {
			dur = fmtDuration(r.FinishedAt.Sub(r.CreatedAt))
		} else {
			dur = fmtDuration(max(a.now().Sub(r.CreatedAt), 0)) + " so far"
		}
		status := string(r.Status)
		if r.Paused {
			status += " (paused)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.Name, status, r.Nodes, fmtTime(r.CreatedAt), dur)
	}
	return tw.Flush()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
