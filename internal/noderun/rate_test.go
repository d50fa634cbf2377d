package noderun_test

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/noderun"
)

func TestRateInterval(t *testing.T) {
	t.Parallel()
	require.Equal(t, 20*time.Millisecond, noderun.RateInterval(50, time.Second))
	// Rounded up: three starts 333 333 333 ns apart would fit four in a second.
	require.Equal(t, 333333334*time.Nanosecond, noderun.RateInterval(3, time.Second))
	require.Equal(t, time.Second, noderun.RateInterval(1, time.Second))
}

func TestRateDecide(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	const iv = 20 * time.Millisecond
	var zero time.Time
	tests := []struct {
		name     string
		st       noderun.RateState
		reserved time.Time
		now      time.Time
		start    bool
		wait     time.Duration
		reserve  time.Time
		next     noderun.RateState
	}{
		{"first start ever", noderun.RateState{}, zero, at(0), true, 0, zero, noderun.RateState{LastStart: at(0)}},
		{"spaced enough", noderun.RateState{LastStart: at(0)}, zero, at(20), true, 0, zero, noderun.RateState{LastStart: at(20)}},
		{"too soon: promised the next slot", noderun.RateState{LastStart: at(0)}, zero, at(5), false, 15 * time.Millisecond, at(20), noderun.RateState{LastStart: at(0), NextFree: at(20)}},
		{"behind a pending promise", noderun.RateState{LastStart: at(0), NextFree: at(20)}, zero, at(15), false, 25 * time.Millisecond, at(40), noderun.RateState{LastStart: at(0), NextFree: at(40)}},
		{"a promise due but not back does not block", noderun.RateState{LastStart: at(0), NextFree: at(20)}, zero, at(25), true, 0, zero, noderun.RateState{LastStart: at(25), NextFree: at(20)}},
		{"promise due", noderun.RateState{LastStart: at(0), NextFree: at(40)}, at(20), at(21), true, 0, zero, noderun.RateState{LastStart: at(21), NextFree: at(40)}},
		{"promise due, spacing not yet: keep it", noderun.RateState{LastStart: at(15), NextFree: at(40)}, at(20), at(21), false, 14 * time.Millisecond, zero, noderun.RateState{LastStart: at(15), NextFree: at(40)}},
		{"woken early", noderun.RateState{LastStart: at(0), NextFree: at(40)}, at(40), at(30), false, 10 * time.Millisecond, zero, noderun.RateState{LastStart: at(0), NextFree: at(40)}},
		{"old promises all due", noderun.RateState{LastStart: at(0), NextFree: at(40)}, zero, at(100), true, 0, zero, noderun.RateState{LastStart: at(100), NextFree: at(40)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start, wait, reserve, next := noderun.RateDecide(tt.st, tt.reserved, tt.now, iv)
			require.Equal(t, tt.start, start)
			require.Equal(t, tt.wait, wait)
			require.Equal(t, tt.reserve, reserve)
			require.Equal(t, tt.next, next)
		})
	}
}

// TestRateDecideWindows simulates jobs asking to start at random moments,
// coming back when told (a little late, like a worker fetching a snoozed
// job), and checks the property the limiter exists for: no window of
// length per holds more than lim starts, while the rate stays close to the
// limit under load.
func TestRateDecideWindows(t *testing.T) {
	t.Parallel()
	const lim, per = 50, time.Second
	iv := noderun.RateInterval(lim, per)
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	type req struct {
		at       time.Time
		reserved time.Time
	}
	var queue []req
	for i := range 400 {
		queue = append(queue, req{at: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	var st noderun.RateState
	var starts []time.Time
	for len(queue) > 0 {
		sort.Slice(queue, func(i, j int) bool { return queue[i].at.Before(queue[j].at) })
		q := queue[0]
		queue = queue[1:]
		start, wait, reserve, next := noderun.RateDecide(st, q.reserved, q.at, iv)
		st = next
		if start {
			starts = append(starts, q.at)
			continue
		}
		if !reserve.IsZero() {
			q.reserved = reserve
		}
		q.at = q.at.Add(wait + time.Duration(r.IntN(3000))*time.Microsecond)
		queue = append(queue, q)
	}
	require.Len(t, starts, 400)
	for i := lim; i < len(starts); i++ {
		require.GreaterOrEqual(t, starts[i].Sub(starts[i-lim]), per, "starts %d..%d", i-lim, i)
	}
	took := starts[len(starts)-1].Sub(starts[0])
	require.GreaterOrEqual(t, took, 399*iv)
	require.Less(t, took, 399*iv*2, "promises keep the rate near the limit")
}
