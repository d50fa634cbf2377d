package jobs_test

import (
	"slices"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/jobs"
)

// TestKinds checks that the list flow accepts at submit is the list
// Register adds, each registered once.
func TestKinds(t *testing.T) {
	t.Parallel()
	kinds := jobs.Kinds()
	require.True(t, slices.IsSorted(kinds))
	require.Equal(t, []string{"echo", "fail", "noop", "sleep"}, kinds)

	workers := river.NewWorkers()
	require.NoError(t, jobs.Register(workers))
	require.Error(t, jobs.Register(workers), "registering twice must fail")
	for _, err := range []error{
		river.AddWorkerSafely(workers, &jobs.EchoWorker{}),
		river.AddWorkerSafely(workers, &jobs.FailWorker{}),
		river.AddWorkerSafely(workers, &jobs.NoopWorker{}),
		river.AddWorkerSafely(workers, &jobs.SleepWorker{}),
	} {
		require.ErrorContains(t, err, "already registered")
	}
}
