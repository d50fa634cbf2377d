package ingest

import (
	"context"
	"errors"

	"github.com/quantumflow/quantumflow/flow"
)

// Run is a submitted ingest run.
type Run struct {
	// ID is the run's workflow id.
	ID string
	// Codebase is the codebase's name.
	Codebase string
}

// Submit validates opts (the path exists and is a directory, the codebase
// name is valid) and submits an ingest run as one workflow through c.
// Nothing is written when it returns an error.
func Submit(ctx context.Context, c *flow.Client, opts Options) (*Run, error) {
	return nil, errors.New("ingest: submit not implemented yet")
}
