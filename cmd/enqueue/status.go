package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/flow"
)

// maxNodesDefault is how many node lines status prints before collapsing
// the rest into counts.
const maxNodesDefault = 200

type statusFlags struct {
	output   string
	maxNodes int
	failed   bool
}

func (a *app) statusCmd() *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a workflow and the state of its nodes",
		Long: `Status shows a workflow: a header with its id, name, status, node counts by
state and times, then its nodes as a tree (groups contain their members), each
with its kind, state, attempts, duration (or how long it has been running)
and, for a node that failed, its error.

Large workflows are cut at --max-nodes lines; the nodes left out are counted
by state. --failed shows only failed and cancelled nodes (with the groups that
contain them).

-o json prints one object, the contract shape (docs/CLI.md):
{"id", "name", "status", "created_at", "started_at", "finished_at", "input",
"output", "nodes": [{"id", "kind", "state", "deps", "job_id", "attempts",
"started_at", "finished_at", "output", "error"}]} with "key" when the workflow
has one and "parent" on nodes inside a group. --max-nodes and --failed do not
apply to it.`,
		Example: `  enqueue status 7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f
  enqueue status --failed "$ID"
  enqueue status --max-nodes 0 "$ID"          # every node
  enqueue status -o json "$ID" | jq '.nodes[] | select(.state == "failed") | .error'`,
		Args: idArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, f.output); err != nil {
				return err
			}
			if f.maxNodes < 0 {
				return usageErr(cmd, "--max-nodes must not be negative (got %d)", f.maxNodes)
			}
			return a.status(cmd.Context(), args[0], f)
		},
	}
	addOutputFlag(cmd, &f.output)
	cmd.Flags().IntVar(&f.maxNodes, "max-nodes", maxNodesDefault, "text: print at most this many nodes, counting the rest (0: all)")
	cmd.Flags().BoolVar(&f.failed, "failed", false, "text: show only failed and cancelled nodes")
	return cmd
}

func (a *app) status(ctx context.Context, id string, f statusFlags) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	st, err := client.Status(ctx, id)
	if err != nil {
		return a.runtimeErr(ctx, err)
	}
	if f.output == outJSON {
		return a.printJSON(st)
	}
	a.printHeader(st)
	fmt.Fprintln(a.stdout)
	return renderTree(a.stdout, st, treeOpts{maxNodes: f.maxNodes, failedOnly: f.failed, now: a.now()})
}

// printHeader prints the workflow's summary lines.
func (a *app) printHeader(st *flow.WorkflowStatus) {
	paused := ""
	if st.Paused {
		paused = " (paused)"
	}
	fmt.Fprintf(a.stdout, "workflow %s  %s  %s%s\n", st.ID, st.Name, st.Status, paused)
	if st.Key != nil {
		fmt.Fprintf(a.stdout, "key       %s\n", *st.Key)
	}
	if st.CancelReason != nil {
		fmt.Fprintf(a.stdout, "reason    %s\n", *st.CancelReason)
	}
	fmt.Fprintf(a.stdout, "nodes     %d: %s\n", len(st.Nodes), stateCounts(st.Nodes))
	line := "created   " + fmtTime(st.CreatedAt)
	if st.StartedAt != nil {
		line += ", started " + fmtTime(*st.StartedAt)
	}
	if st.FinishedAt != nil {
		line += fmt.Sprintf(", finished %s (took %s)", fmtTime(*st.FinishedAt), fmtDuration(st.FinishedAt.Sub(st.CreatedAt)))
	} else {
		line += fmt.Sprintf(" (%s ago)", fmtDuration(max(a.now().Sub(st.CreatedAt), 0)))
	}
	fmt.Fprintln(a.stdout, line)
}

// fmtTime prints a time in the local zone with milliseconds.
func fmtTime(t time.Time) string {
	return t.Local().Format("2006-01-02 15:04:05.000 MST")
}
