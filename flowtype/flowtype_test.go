package flowtype_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flowtype"
)

func TestWorkflowStateIsFinal(t *testing.T) {
	t.Parallel()
	final := map[flowtype.WorkflowState]bool{
		flowtype.WorkflowPending: false, flowtype.WorkflowRunning: false,
		flowtype.WorkflowCompleted: true, flowtype.WorkflowFailed: true, flowtype.WorkflowCancelled: true,
	}
	require.Len(t, flowtype.WorkflowStates(), len(final))
	for _, s := range flowtype.WorkflowStates() {
		require.Equal(t, final[s], s.IsFinal(), s)
		require.True(t, s.Valid(), s)
	}
	require.False(t, flowtype.WorkflowState("paused").Valid())
}

func TestNodeState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state          flowtype.NodeState
		final, failure bool
	}{
		{flowtype.NodeWaiting, false, false},
		{flowtype.NodeThrottled, false, false},
		{flowtype.NodePaused, false, false},
		{flowtype.NodeScheduled, false, false},
		{flowtype.NodeEnqueued, false, false},
		{flowtype.NodeActive, false, false},
		{flowtype.NodeAvailable, false, false},
		{flowtype.NodeRunning, false, false},
		{flowtype.NodeRetryable, false, false},
		{flowtype.NodeCompleted, true, false},
		{flowtype.NodeSkipped, true, false},
		{flowtype.NodeFailed, true, true},
		{flowtype.NodeCancelled, true, true},
	}
	for _, tt := range tests {
		require.Equal(t, tt.final, tt.state.IsFinal(), tt.state)
		require.Equal(t, tt.failure, tt.state.IsFailure(), tt.state)
	}
}
