package flow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
)

// holderRow is a qf_worker row: its heartbeat's age and whether it left.
type holderRow struct {
	age     time.Duration
	left    bool
	deadFor time.Duration // with left: how long ago it left
}

// TestSweepDeadWorkers puts one job in the state a fetch leaves it in
// (running, attempted_by ending with its holder) and checks what a sweep
// does with it depending on the holder's heartbeat row.
func TestSweepDeadWorkers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		// worker is the holder's qf_worker row: heartbeat age and whether
		// it left; nil means the holder has no row (not a QuantumFlow
		// member, so River's own rescuer is responsible).
		worker      *holderRow
		attemptedBy []string // the holder is the last element
		attempt     int
		maxAttempts int
		wantJob     string // job state after the sweep
		wantNode    string
		wantDead    int
	}{
		{name: "fresh heartbeat keeps its job", worker: &holderRow{age: 0}, attemptedBy: []string{"w"}, attempt: 1, maxAttempts: 3, wantJob: "running", wantNode: "running"},
		{name: "stale heartbeat hands the job back", worker: &holderRow{age: time.Minute}, attemptedBy: []string{"w"}, attempt: 1, maxAttempts: 3, wantJob: "available", wantNode: "available", wantDead: 1},
		{name: "left worker hands the job back", worker: &holderRow{age: 0, left: true}, attemptedBy: []string{"w"}, attempt: 1, maxAttempts: 3, wantJob: "available", wantNode: "available"},
		{name: "last attempt discards and fails the node", worker: &holderRow{age: time.Minute}, attemptedBy: []string{"w"}, attempt: 2, maxAttempts: 2, wantJob: "discarded", wantNode: "failed", wantDead: 1},
		{name: "worker dead beyond the rescue window is left to River", worker: &holderRow{age: time.Hour, left: true, deadFor: 20 * time.Minute}, attemptedBy: []string{"w"}, attempt: 1, maxAttempts: 3, wantJob: "running", wantNode: "running"},
		{name: "unknown holder is left to River", worker: nil, attemptedBy: []string{"w"}, attempt: 1, maxAttempts: 3, wantJob: "running", wantNode: "running"},
		{name: "dead worker of an earlier attempt does not matter", worker: &holderRow{age: time.Minute}, attemptedBy: []string{"w", "alive"}, attempt: 2, maxAttempts: 3, wantJob: "running", wantNode: "running", wantDead: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			id := b.submitYAML(t, "name: sweep\nnodes:\n  - {id: a, kind: noop}\n  - {id: b, kind: noop, deps: [a]}\n")
			pool := b.db.Pool

			// A live member "alive" whose sweep runs the test.
			alive, err := b.client.NewMember(flow.MemberConfig{ID: "alive"})
			require.NoError(t, err)
			require.NoError(t, alive.Join(ctx))
			if tt.worker != nil {
				_, err := pool.Exec(ctx, `
INSERT INTO qf_worker (id, host, pid, heartbeat_at, dead_after_ms, dead_at)
VALUES ('w', 'h', 1, now() - $1::interval, 5000, CASE WHEN $2 THEN now() - $3::interval END)`, tt.worker.age, tt.worker.left, tt.worker.deadFor)
				require.NoError(t, err)
			}
			_, err = pool.Exec(ctx, `
UPDATE river_job SET state = 'running', attempt = $1, max_attempts = $2, attempted_at = now(), attempted_by = $3`,
				tt.attempt, tt.maxAttempts, tt.attemptedBy)
			require.NoError(t, err)

			res, err := b.client.SweepDeadWorkers(ctx)
			require.NoError(t, err)
			require.Len(t, res.Dead, tt.wantDead)

			var state string
			require.NoError(t, pool.QueryRow(ctx, `SELECT state::text FROM river_job`).Scan(&state))
			require.Equal(t, tt.wantJob, state)
			st, err := b.client.Status(ctx, id)
			require.NoError(t, err)
			require.EqualValues(t, tt.wantNode, nodeByID(t, st, "a").State)
			if tt.wantNode == "failed" {
				require.Contains(t, *nodeByID(t, st, "a").Error, "worker w died (no heartbeat)")
				require.EqualValues(t, "cancelled", nodeByID(t, st, "b").State)
				require.EqualValues(t, "failed", st.Status)
			}

			// A second sweep finds nothing more to do.
			res, err = b.client.SweepDeadWorkers(ctx)
			require.NoError(t, err)
			require.Empty(t, res.Dead)
			require.Zero(t, res.Requeued+res.Discarded)
		})
	}
}

// TestMemberKeepsHealthyLongJob runs a job for several times DeadAfter on a
// worker whose member heartbeats, with another member sweeping: the job
// must complete on its first attempt, never handed back. A stale worker row
// inserted while the job runs must be declared dead before the job ends,
// which shows that the sweeps really ran meanwhile.
func TestMemberKeepsHealthyLongJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	const deadAfter = 300 * time.Millisecond
	rc := b.startWorker(t, 4) // River client with its own ID
	m, err := b.client.NewMember(flow.MemberConfig{ID: rc.ID(), HeartbeatInterval: 50 * time.Millisecond, DeadAfter: deadAfter})
	require.NoError(t, err)
	require.NoError(t, m.Join(ctx))
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go m.Run(runCtx) //nolint:errcheck
	sweeper, err := b.client.NewMember(flow.MemberConfig{ID: "sweeper", HeartbeatInterval: 50 * time.Millisecond, DeadAfter: deadAfter})
	require.NoError(t, err)
	require.NoError(t, sweeper.Join(ctx))
	go sweeper.Run(runCtx) //nolint:errcheck

	id := b.submitYAML(t, "name: long\nnodes:\n  - {id: long, kind: sleep, args: {ms: 3000}}\n")
	require.Eventually(t, func() bool {
		var running bool
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM river_job WHERE metadata @> jsonb_build_object('qf_wf', $1::text) AND state = 'running')`, id).Scan(&running))
		return running
	}, 30*time.Second, 10*time.Millisecond, "the long job never started")
	_, err = b.db.Pool.Exec(ctx, `
INSERT INTO qf_worker (id, host, pid, heartbeat_at, dead_after_ms) VALUES ('ghost', 'h', 1, now() - interval '1 minute', 300)`)
	require.NoError(t, err)

	st := b.waitFinished(t, id, 30*time.Second)
	require.EqualValues(t, "completed", st.Status)
	long := nodeByID(t, st, "long")
	require.Equal(t, 1, long.Attempts)
	require.False(t, m.LastHeartbeat().IsZero())

	// Committed facts: the ghost was declared dead while the job ran.
	var deadAt *time.Time
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT dead_at FROM qf_worker WHERE id = 'ghost'`).Scan(&deadAt))
	require.NotNil(t, deadAt, "no sweep ran during the long job")
	require.True(t, deadAt.After(*long.StartedAt) && deadAt.Before(*long.FinishedAt),
		"ghost declared dead at %s, outside the job's run %s – %s", deadAt, long.StartedAt, long.FinishedAt)
	var alive int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM qf_worker WHERE id IN ($1, 'sweeper') AND dead_at IS NULL`, rc.ID()).Scan(&alive))
	require.Equal(t, 2, alive, "a healthy member was declared dead")
}

func TestNewMemberRejectsBadConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, cfg := range []flow.MemberConfig{
		{},
		{ID: "x", HeartbeatInterval: time.Second, DeadAfter: 2 * time.Second},
		{ID: "x", HeartbeatInterval: time.Microsecond},
	} {
		_, err := b.client.NewMember(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

// TestMemberVouchesBeforeDeclaringDeath: a member that has just (re)gained
// the database does not declare others dead until it has itself been
// heartbeating for their dead_after. After an outage every heartbeat is
// stale; the first member back must give the others time to reconnect.
func TestMemberVouchesBeforeDeclaringDeath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	_, err := b.db.Pool.Exec(ctx, `
INSERT INTO qf_worker (id, host, pid, heartbeat_at, dead_after_ms) VALUES ('stale', 'h', 1, now() - interval '1 minute', 1000)`)
	require.NoError(t, err)
	deadAt := func() *time.Time {
		var at *time.Time
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT dead_at FROM qf_worker WHERE id = 'stale'`).Scan(&at))
		return at
	}

	m, err := b.client.NewMember(flow.MemberConfig{ID: "back", HeartbeatInterval: 20 * time.Millisecond, DeadAfter: time.Second})
	require.NoError(t, err)
	require.NoError(t, m.Join(ctx))
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	started := time.Now()
	go m.Run(runCtx) //nolint:errcheck
	time.Sleep(150 * time.Millisecond)
	// Whatever the scheduling, the member's streak is younger than 150 ms
	// here, so it cannot vouch for a 1 s dead_after yet.
	require.Nil(t, deadAt(), "declared dead after only %s of connection", time.Since(started))
	require.Eventually(t, func() bool { return deadAt() != nil }, 10*time.Second, 20*time.Millisecond)
}

// TestMemberHeartbeatsWhileChoresWait: a chore that takes long must not
// stop the heartbeat. The reconcile lease row is locked by another
// transaction, so the member's reconciler pass waits on it for its whole
// interval (4 s); meanwhile the member's heartbeat must stay fresh, within
// its DeadAfter (1 s), and a second member must not declare it
// dead. (With the reconciler's turn in the heartbeat loop, a long pass had
// busy workers declared dead.)
func TestMemberHeartbeatsWhileChoresWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupWith(t, &flow.Config{ReconcileInterval: 4 * time.Second})
	pool := b.db.Pool

	lock, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer lock.Rollback(ctx) //nolint:errcheck
	_, err = lock.Exec(ctx, `UPDATE qf_lease SET expires_at = now() - interval '1 minute' WHERE name = 'reconcile'`)
	require.NoError(t, err)

	const deadAfter = time.Second
	m, err := b.client.NewMember(flow.MemberConfig{ID: "busy", HeartbeatInterval: 100 * time.Millisecond, DeadAfter: deadAfter})
	require.NoError(t, err)
	require.NoError(t, m.Join(ctx))
	sweeper, err := b.client.NewMember(flow.MemberConfig{ID: "sweeper", HeartbeatInterval: 100 * time.Millisecond, DeadAfter: deadAfter})
	require.NoError(t, err)
	require.NoError(t, sweeper.Join(ctx))
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go m.Run(runCtx)       //nolint:errcheck
	go sweeper.Run(runCtx) //nolint:errcheck

	// Both members are now stuck in the reconciler's lease update (the
	// first chores round of each tries it).
	require.Eventually(t, func() bool {
		var waiting int
		require.NoError(t, pool.QueryRow(ctx, `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE qf_lease SET holder%'`).Scan(&waiting))
		return waiting >= 1
	}, 5*time.Second, 10*time.Millisecond, "no member waits on the reconcile lease")
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		age := time.Since(m.LastHeartbeat())
		require.Less(t, age, deadAfter, "the heartbeat stopped while a chore waited")
	}
	var deadAt *time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT dead_at FROM qf_worker WHERE id = 'busy'`).Scan(&deadAt))
	require.Nil(t, deadAt, "a member whose chore waited was declared dead")
}
