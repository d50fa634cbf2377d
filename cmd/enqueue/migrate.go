package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/migrations"
)

func (a *app) migrateCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the database schema",
		Long: `Migrate applies River's migrations and QuantumFlow's own to the schema that the
database URL selects (its search_path), and prints what it applied. It is
idempotent and safe to run from several processes at once (the worker's
migrate command does the same). -o json prints {"river": [...],
"quantumflow": [...]}, the versions applied by this run.`,
		Example: `  enqueue migrate
  DATABASE_URL='postgres://app@db:5432/app?search_path=qf' enqueue migrate`,
		Args: argsNamed(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(cmd, output); err != nil {
				return err
			}
			ctx := cmd.Context()
			if _, err := a.client(ctx); err != nil {
				return err
			}
			res, err := migrations.Migrate(ctx, a.pool)
			if err != nil {
				return a.interrupted(ctx, fmt.Errorf("migrate: %w", err))
			}
			if output == outJSON {
				return a.printJSON(struct {
					River       []int `json:"river"`
					QuantumFlow []int `json:"quantumflow"`
				}{orEmpty(res.River), orEmpty(res.QuantumFlow)})
			}
			if len(res.River) == 0 && len(res.QuantumFlow) == 0 {
				fmt.Fprintln(a.stdout, "schema is up to date; nothing applied")
				return nil
			}
			fmt.Fprintf(a.stdout, "applied River migrations %v and QuantumFlow migrations %v\n", res.River, res.QuantumFlow)
			return nil
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func orEmpty(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}
