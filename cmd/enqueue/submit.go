package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// pollIntervalDefault is how often --wait reads the workflow's status.
const pollIntervalDefault = 200 * time.Millisecond

type submitFlags struct {
	wait              bool
	output            string
	allowUnknownKinds bool
	pollInterval      time.Duration
}

func (a *app) submitCmd() *cobra.Command {
	var f submitFlags
	cmd := &cobra.Command{
		Use:   "submit FILE|-",
		Short: "Submit a workflow spec (YAML or JSON) and print its id",
		Long: `Submit reads a workflow spec from FILE (YAML or JSON; - reads stdin), validates
it and writes the workflow, its nodes and the jobs of its first nodes in one
transaction: a spec that is rejected writes nothing and exits 3 with the
problem, naming the node path and field.

Text output is the workflow id alone on stdout, so ID=$(enqueue submit f.yaml)
works; details go to stderr. -o json prints one object instead:
{"id", "name", "nodes", "existing", "key"}; existing is true when the spec's
idempotency key was already held by a workflow with the same spec, whose id
is returned and nothing new is written.

--wait follows the workflow to the end: a progress bar on a terminal, else a
line every 2 s. It exits 0 when the workflow completed and 4 when it failed or
was cancelled, naming the failed nodes and their errors on stderr. With
-o json and --wait, stdout gets the final status object (as status -o json)
instead. Ctrl-C stops following; the workflow goes on.

Kinds must be built in (noop, sleep, fail, echo) or registered by a worker
that has started against this database, unless --allow-unknown-kinds.`,
		Example: `  # Submit and keep the id.
  ID=$(enqueue submit examples/quickstart.yaml)

  # Submit from stdin and follow it to the end; exit 0 only if it completed.
  cat examples/diamond.yaml | enqueue submit --wait -

  # Machine-readable: the final status of a followed workflow.
  enqueue submit --wait -o json examples/wide.json | jq .status`,
		Args: argsNamed("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, f.output); err != nil {
				return err
			}
			if f.pollInterval <= 0 {
				return usageErr(cmd, "--poll-interval must be positive (got %s)", f.pollInterval)
			}
			return a.submit(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.wait, "wait", false, "follow the workflow to the end; exit 4 if it failed or was cancelled")
	addOutputFlag(cmd, &f.output)
	fl.BoolVar(&f.allowUnknownKinds, "allow-unknown-kinds", false, "accept kinds that no worker has registered yet")
	fl.DurationVar(&f.pollInterval, "poll-interval", pollIntervalDefault, "with --wait: how often to read the workflow's status")
	return cmd
}

// submitOutput is submit's -o json object.
type submitOutput struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Key      *string `json:"key,omitempty"`
	Nodes    int     `json:"nodes"`
	Existing bool    `json:"existing"`
}

func (a *app) submit(ctx context.Context, path string, f submitFlags) error {
	// Usage problems first: nothing is read or written without a database.
	if _, err := cliutil.DatabaseURL(a.databaseURL); err != nil {
		return err
	}
	spec, err := a.readSpec(path)
	if err != nil {
		return err
	}
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	res, err := client.Submit(ctx, spec, &flow.SubmitOpts{AllowUnknownKinds: f.allowUnknownKinds})
	var verr *dag.ValidationError
	switch {
	case err == nil:
	case errors.As(err, &verr) || errors.Is(err, flow.ErrKeyConflict):
		err = fmt.Errorf("%s: %w", specName(path), err)
		if errors.Is(err, dag.ErrUnknownKind) {
			err = fmt.Errorf("%w\nStart a worker that registers the kind, or pass --allow-unknown-kinds to submit it anyway.", err)
		}
		return cliutil.WithCode(cliutil.ExitInvalidSpec, err)
	default:
		return a.interrupted(ctx, fmt.Errorf("submit %s: %w", specName(path), err))
	}

	out := submitOutput{ID: res.ID, Name: spec.Name, Nodes: countNodes(spec.Nodes), Existing: res.Existing}
	if spec.Key != "" {
		out.Key = &spec.Key
	}
	if res.Existing {
		fmt.Fprintf(a.stderr, "workflow %s already holds key %q with this spec; nothing new was submitted\n", res.ID, spec.Key)
	} else {
		fmt.Fprintf(a.stderr, "submitted workflow %s (%s) from %s\n", spec.Name, plural(out.Nodes, "node"), specName(path))
	}
	switch {
	case f.output == outText:
		fmt.Fprintln(a.stdout, res.ID)
	case !f.wait:
		if err := a.printJSON(out); err != nil {
			return err
		}
	}
	if !f.wait {
		return nil
	}
	return a.follow(ctx, client, res.ID, f.pollInterval, f.output)
}

// readSpec reads and parses the spec at path ("-" is stdin). A file that
// cannot be opened is a usage error (2); a spec that does not parse is
// rejected (3).
func (a *app) readSpec(path string) (*dag.Spec, error) {
	in := a.stdin
	if path != "-" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, cliutil.WithCode(cliutil.ExitUsage, fmt.Errorf("spec file %s: %w", path, errors.Unwrap(err)))
		}
		if fi.IsDir() {
			return nil, cliutil.WithCode(cliutil.ExitUsage, fmt.Errorf("spec file %s is a directory", path))
		}
		file, err := os.Open(path)
		if err != nil {
			return nil, cliutil.WithCode(cliutil.ExitUsage, fmt.Errorf("spec file %s: %w", path, errors.Unwrap(err)))
		}
		defer file.Close()
		in = file
	}
	spec, err := dag.Parse(in)
	var verr *dag.ValidationError
	switch {
	case err == nil:
		return spec, nil
	case errors.As(err, &verr):
		return nil, cliutil.WithCode(cliutil.ExitInvalidSpec, fmt.Errorf("%s: %w", specName(path), err))
	default:
		return nil, fmt.Errorf("read %s: %w", specName(path), err)
	}
}

func specName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

// countNodes counts the nodes of a spec, groups included, as the runtime does.
func countNodes(nodes []dag.Node) int {
	n := len(nodes)
	for i := range nodes {
		n += countNodes(nodes[i].Nodes)
	}
	return n
}
