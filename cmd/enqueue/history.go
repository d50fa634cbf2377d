package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

type historyFlags struct {
	codebase, output string
}

func (a *app) historyCmd() *cobra.Command {
	var f historyFlags
	cmd := &cobra.Command{
		Use:   "history --codebase NAME PATH",
		Short: "Show the version history of an ingested file",
		Long: `History shows every version of a file that ingest runs saw, oldest first:
when, the change (added, modified, removed, or renamed, with the path it had
before), the SHA-256 of its content and the run. PATH is relative to the
codebase's root (or an absolute path inside it). A path no run saw is an
error (exit 1).

-o json prints [{"hash", "change", "run", "at"}] (for a removal, the hash of
the content removed), with "from_path" for a rename.`,
		Example: `  enqueue history --codebase stdlib net/http/server.go
  enqueue history --codebase app -o json src/main.py | jq -r '.[].change'`,
		Args: argsNamed("PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, f.output); err != nil {
				return err
			}
			if f.codebase == "" {
				return usageErr(cmd, "missing --codebase")
			}
			return a.history(cmd.Context(), args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.codebase, "codebase", "", "the codebase's name (required)")
	addOutputFlag(cmd, &f.output)
	return cmd
}

func (a *app) history(ctx context.Context, path string, f historyFlags) error {
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	vs, err := ingest.History(ctx, client.Pool(), f.codebase, path)
	if errors.Is(err, ingest.ErrBadOption) {
		return cliutil.WithCode(cliutil.ExitUsage, err)
	}
	if err != nil {
		return a.interrupted(ctx, err)
	}
	if len(vs) == 0 {
		return fmt.Errorf("no history for %s in codebase %q (paths are relative to the codebase root)", path, f.codebase)
	}
	if f.output == outJSON {
		return a.printJSON(vs)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tCHANGE\tHASH\tRUN")
	for _, v := range vs {
		hash := "-"
		if v.Hash != nil {
			hash = *v.Hash
			if len(hash) > 12 {
				hash = hash[:12]
			}
		}
		change := v.Change
		if v.FromPath != "" {
			change += " from " + v.FromPath
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", fmtTime(v.At), change, hash, v.Run)
	}
	return tw.Flush()
}
