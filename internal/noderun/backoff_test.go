package noderun_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/noderun"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	half := func() float64 { return 0.5 }
	tests := []struct {
		name    string
		p       riverjob.RetryPolicy
		attempt int
		want    time.Duration
	}{
		{"constant", riverjob.RetryPolicy{Backoff: "constant", BaseMS: 1000}, 5, time.Second},
		{"exponential first", riverjob.RetryPolicy{Backoff: "exponential", BaseMS: 1000}, 1, time.Second},
		{"exponential fourth", riverjob.RetryPolicy{Backoff: "exponential", BaseMS: 1000}, 4, 8 * time.Second},
		{"capped", riverjob.RetryPolicy{Backoff: "exponential", BaseMS: 1000, MaxMS: 5000}, 10, 5 * time.Second},
		{"huge attempt does not overflow", riverjob.RetryPolicy{Backoff: "exponential", BaseMS: 1000, MaxMS: 300000}, 30000, 5 * time.Minute},
		{"jitter", riverjob.RetryPolicy{Backoff: "constant", BaseMS: 1000, Jitter: true}, 1, 750 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, noderun.Backoff(tt.p, tt.attempt, half))
		})
	}
	p := riverjob.RetryPolicy{Backoff: "constant", BaseMS: 1000, Jitter: true}
	require.Equal(t, 500*time.Millisecond, noderun.Backoff(p, 1, func() float64 { return 0 }))
	require.Less(t, noderun.Backoff(p, 1, func() float64 { return 0.999999 }), time.Second+1)
}
