package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
)

// ScanError is returned by WaitScan when the run's scan failed or was
// cancelled before it produced its output.
type ScanError struct {
	RunID string
	State string
	Err   string
}

func (e *ScanError) Error() string {
	if e.Err == "" {
		return fmt.Sprintf("the scan of run %s was %s", e.RunID, e.State)
	}
	return fmt.Sprintf("the scan of run %s %s: %s", e.RunID, e.State, e.Err)
}

// WaitScan polls the scan node of run id every poll until it has its output
// (the file counts), and returns it. It returns a *ScanError when the scan
// failed or was cancelled, and ctx's error when ctx ends first.
func WaitScan(ctx context.Context, c *flow.Client, id string, poll time.Duration) (*ScanOutput, error) {
	for {
		n, err := store.NodeOf(ctx, c.Pool(), id, NodeScan)
		if err != nil {
			return nil, err
		}
		if len(n.Output) > 0 && string(n.Output) != "null" {
			var out ScanOutput
			if err := json.Unmarshal(n.Output, &out); err != nil {
				return nil, fmt.Errorf("scan output of run %s: %w", id, err)
			}
			return &out, nil
		}
		switch n.State {
		case "failed", "cancelled", "skipped":
			return nil, &ScanError{RunID: id, State: n.State, Err: n.Error}
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
	}
}
