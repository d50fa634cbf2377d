package noderun

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/internal/dbtx"
	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// RateState is a rate key's row: the latest start, and the latest start
// time promised to a waiting job (zero times for none).
type RateState struct {
	LastStart time.Time
	NextFree  time.Time
}

// RateInterval is the spacing between two starts of a key with limit lim
// per period per: per/lim, rounded up to the nanosecond, so that lim+1
// starts always span at least per.
func RateInterval(lim int, per time.Duration) time.Duration {
	return (per + time.Duration(lim) - 1) / time.Duration(lim)
}

// RateDecide is the rate limiter's rule, without a database. st is the
// key's row, reserved the start time promised to this job earlier (zero
// for none), now the time of the start asked for, interval RateInterval.
//
// A start is allowed only when now is at least interval after the key's
// latest start; a job without a promise is also held back while promises
// to others are pending (they were first). Allowed: start is true and next
// the row to store. Refused: wait is how long the job should sleep, and
// reserve, when not zero, the start time promised to it now (the slot after
// the last promised one); a job that already holds a promise keeps it and
// only waits for the spacing.
//
// Every allowed start is at least interval after the previous one, in the
// order the row's lock serialises them, so any lim+1 consecutive starts
// span at least per: at most lim starts fall in any window of length per.
// Promises spread waiting jobs one interval apart instead of waking them
// all at once.
func RateDecide(st RateState, reserved, now time.Time, interval time.Duration) (start bool, wait time.Duration, reserve time.Time, next RateState) {
	earliest := st.LastStart.Add(interval)
	if st.LastStart.IsZero() {
		earliest = now
	}
	switch {
	case !reserved.IsZero() && reserved.After(now):
		return false, reserved.Sub(now), time.Time{}, st
	case !reserved.IsZero() || !st.NextFree.After(now):
		if now.Before(earliest) {
			if reserved.IsZero() {
				break // no promise yet: take one below
			}
			return false, earliest.Sub(now), time.Time{}, st
		}
		st.LastStart = now
		return true, 0, time.Time{}, st
	}
	slot := earliest
	if !st.NextFree.IsZero() && st.NextFree.Add(interval).After(slot) {
		slot = st.NextFree.Add(interval)
	}
	if slot.Before(now) {
		slot = now
	}
	st.NextFree = slot
	return false, slot.Sub(now), slot, st
}

// rateGate counts the start of a job whose node has a rate limit, in one
// transaction on the key's row (locked, so the fleet's starts of the key
// are serialised and stamped with the database's clock in lock order). An
// allowed start is recorded, and the job's attempted_at set to the same
// time, so River's own timestamp is the start that was counted. A refused
// start records the job's promised start in its metadata and returns
// River's snooze until then: the job becomes available again at that
// moment, without spending an attempt.
func (m *Middleware) rateGate(ctx context.Context, run *Run) error {
	for {
		wait, err := m.rateTry(ctx, run)
		if err != nil || wait == 0 {
			return err
		}
		if wait > RateSleepMax {
			return river.JobSnooze(wait)
		}
		// A short wait is slept here: River fetches a snoozed job only at
		// its next poll, which would space starts by the poll interval
		// instead of the limit's.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// RateSleepMax is the longest wait for a rate-limited start that the
// middleware sleeps in the job instead of snoozing it through River.
const RateSleepMax = 250 * time.Millisecond

// rateTry asks for the start once and returns how long to wait before
// asking again (0 when the start was allowed).
func (m *Middleware) rateTry(ctx context.Context, run *Run) (time.Duration, error) {
	meta := run.Meta
	interval := RateInterval(int(meta.RateLimit), time.Duration(meta.RatePerMS)*time.Millisecond)
	var snooze time.Duration
	err := dbtx.Run(ctx, m.env.Pool, m.env.Logger, "rate limit "+meta.Path, func(tx pgx.Tx) error {
		var (
			last, free *time.Time
			now        time.Time
		)
		if err := tx.QueryRow(ctx, sqlRateLock, meta.RateKey, meta.RateLimit, meta.RatePerMS).Scan(&last, &free, &now); err != nil {
			return fmt.Errorf("lock rate key %q: %w", meta.RateKey, err)
		}
		st := RateState{LastStart: orZero(last), NextFree: orZero(free)}
		start, wait, reserve, next := RateDecide(st, meta.RateReserved, now, interval)
		snooze = wait
		if next != st {
			if _, err := tx.Exec(ctx, `UPDATE qf_rate SET last_start = $2, next_free = $3 WHERE key = $1`,
				meta.RateKey, orNil(next.LastStart), orNil(next.NextFree)); err != nil {
				return fmt.Errorf("record rate key %q: %w", meta.RateKey, err)
			}
		}
		switch {
		case start:
			if err := riverjob.StartedTx(ctx, tx, run.Job.ID, now); err != nil {
				return err
			}
			at := now
			run.Job.AttemptedAt = &at
		case !reserve.IsZero():
			if err := riverjob.ReserveTx(ctx, tx, run.Job.ID, reserve); err != nil {
				return err
			}
			run.Meta.RateReserved = reserve
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("node %s: rate limit: %w", meta.Path, err)
	}
	return snooze, nil
}

func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func orNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// sqlRateLock creates or locks a rate key's row, taking the newest limit
// and period, and returns its state and the database's clock.
const sqlRateLock = `
INSERT INTO qf_rate AS r (key, lim, per_ms) VALUES ($1, $2, $3)
ON CONFLICT (key) DO UPDATE SET lim = EXCLUDED.lim, per_ms = EXCLUDED.per_ms
RETURNING r.last_start, r.next_free, clock_timestamp()`
