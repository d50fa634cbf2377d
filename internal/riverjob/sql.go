package riverjob

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// Querier runs queries: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// CompleteTx completes job with River in tx (river.JobCompleteTx, which
// merges an output recorded with River's RecordOutput into the job, found
// in ctx) and returns the job's recorded output, if any.
func CompleteTx(ctx context.Context, tx pgx.Tx, job *rivertype.JobRow) ([]byte, error) {
	updated, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, &river.Job[Args]{JobRow: job})
	if err != nil {
		return nil, err
	}
	return updated.Output(), nil
}

// CompleteManyTx sets many running jobs completed in one statement: what
// river.JobCompleteTx does for one job without recorded output (state and
// finalized_at; a job that is no longer running is left as it is). River's
// own JobSetStateIfRunningMany would do the same, but it takes a dozen
// arrays and returns whole rows, and it cost twice this statement's time in
// the 1 → 5 000 → 1 profile. holders[i] is the worker that ran jobs[i]
// (the last element of its attempted_by when fetched): a job that the fleet
// has meanwhile handed to another worker, which runs it now, is left to
// that worker.
func CompleteManyTx(ctx context.Context, tx pgx.Tx, ids []int64, holders []*string) error {
	if _, err := tx.Exec(ctx, sqlCompleteMany, ids, holders, time.Now().UTC()); err != nil {
		return fmt.Errorf("complete %d jobs: %w", len(ids), err)
	}
	return nil
}

const sqlCompleteMany = `
UPDATE river_job j SET state = 'completed', finalized_at = $3
FROM unnest($1::bigint[], $2::text[]) AS c(id, holder)
WHERE j.id = c.id AND j.state = 'running'
  AND j.attempted_by[cardinality(j.attempted_by)] IS NOT DISTINCT FROM c.holder`

// Holder returns the worker that holds job's current attempt: the last
// element of its attempted_by, "" when there is none.
func Holder(job *rivertype.JobRow) string {
	if len(job.AttemptedBy) == 0 {
		return ""
	}
	return job.AttemptedBy[len(job.AttemptedBy)-1]
}

// FinalizeFailedTx sets a running job final in tx the way River's
// completer does after Work returned an error for good: state (discarded
// when the attempts are used up, cancelled for river.JobCancel),
// finalized_at, and an entry in River's AttemptError shape ({"at",
// "attempt", "error", "trace"}) appended to errors. The middleware runs it
// in the transaction that records the node's failure, so the job is never
// seen running after its node is final. River's own update after Work
// returns (JobSetStateIfRunningMany) then finds the job no longer running:
// it changes nothing but merging the job's metadata, and appends no second
// entry. A job that is no longer running, or runs under another worker than
// holder now (the fleet handed it on), is left as it is.
func FinalizeFailedTx(ctx context.Context, tx pgx.Tx, id int64, holder string, state rivertype.JobState, attempt int, msg string) error {
	if state != rivertype.JobStateDiscarded && state != rivertype.JobStateCancelled {
		return fmt.Errorf("finalize job %d: state %q is not discarded or cancelled", id, state)
	}
	if _, err := tx.Exec(ctx, sqlFinalizeFailed, id, string(state), attempt, msg, holder); err != nil {
		return fmt.Errorf("finalize job %d as %s: %w", id, state, err)
	}
	return nil
}

const sqlFinalizeFailed = `
UPDATE river_job SET
    state        = $2::text::river_job_state,
    finalized_at = now(),
    errors       = array_append(errors, jsonb_build_object(
        'at', now(), 'attempt', $3::int, 'error', $4::text, 'trace', ''))
WHERE id = $1 AND state = 'running'
  AND attempted_by[cardinality(attempted_by)] IS NOT DISTINCT FROM nullif($5::text, '')`

// Rescued is a job of a dead worker that a sweep handed back.
type Rescued struct {
	Job *rivertype.JobRow
	// Discarded is true when the job had used its last attempt: River will
	// not run it again, and its node must fail.
	Discarded bool
	// Message says why, in the words written to the job's errors.
	Message string
}

// RescueDeadTx hands back the running jobs whose current attempt belongs to
// a dead worker: the workers in dead (declared dead by tx, so a fresh
// snapshot of other sessions does not see it yet) and every qf_worker row
// marked dead within window. River appends the worker's ID to attempted_by
// when it fetches a job, so the last element is the holder of the current
// attempt. A job with attempts left becomes available at once; one on its
// last attempt is discarded. Rows locked by a transaction completing the job
// right now are skipped: that worker is evidently alive, and the next sweep
// looks again. The error entry has River's shape.
func RescueDeadTx(ctx context.Context, tx pgx.Tx, dead []string, window time.Duration) ([]Rescued, error) {
	return handBackTx(ctx, tx, "hand back jobs of dead workers", sqlRescueDead, dead, window)
}

const sqlRescueDead = `
WITH dead AS (
    SELECT unnest($1::text[]) AS id
    UNION
    SELECT id FROM qf_worker WHERE dead_at IS NOT NULL AND dead_at > now() - $2::interval
), stuck AS (
    SELECT j.id, format('worker %s died (no heartbeat) while running this job',
                        j.attempted_by[cardinality(j.attempted_by)]) AS msg
    FROM river_job j
    WHERE j.state = 'running'
      AND j.attempted_by[cardinality(j.attempted_by)] IN (SELECT id FROM dead)
    ORDER BY j.id
    FOR UPDATE OF j SKIP LOCKED
)` + sqlHandBack

// sqlHandBack follows a CTE stuck(id, msg) of locked running jobs: each
// becomes available again with its attempt counted, or discarded on its
// last attempt, with msg as its error entry in River's shape.
const sqlHandBack = `
UPDATE river_job j SET
    state        = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'available' END::river_job_state,
    scheduled_at = now(),
    finalized_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
    errors       = array_append(j.errors, jsonb_build_object(
        'at', now(), 'attempt', j.attempt, 'trace', '', 'error', s.msg))
FROM stuck s
WHERE j.id = s.id
RETURNING j.id, j.state::text, j.attempt, j.attempted_at, j.metadata, s.msg`

// handBackTx runs a hand-back statement (a stuck CTE and sqlHandBack) and
// reads what it handed back; what prefixes its errors.
func handBackTx(ctx context.Context, tx pgx.Tx, what, sql string, args ...any) ([]Rescued, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Rescued, error) {
		r := Rescued{Job: &rivertype.JobRow{}}
		var state string
		err := row.Scan(&r.Job.ID, &state, &r.Job.Attempt, &r.Job.AttemptedAt, &r.Job.Metadata, &r.Message)
		r.Discarded = state == string(rivertype.JobStateDiscarded)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// RescueLostTx hands back the running jobs held under worker, a live
// process, that the worker does not run: their fetch committed but the
// process never received them (a COMMIT acknowledgement lost on the way), so
// nothing would ever finish them before River's one-hour rescue. held lists
// the jobs the worker does run (or just finished); only jobs attempted more
// than grace ago count, so a job fetched a moment ago, not yet started, is
// left alone. Handing back is as for a dead worker's job: available again
// with its attempt counted, or discarded on the last attempt. Rows locked
// by a committing transaction are skipped.
func RescueLostTx(ctx context.Context, tx pgx.Tx, worker string, held []int64, grace time.Duration) ([]Rescued, error) {
	return handBackTx(ctx, tx, "hand back jobs "+worker+" never received", sqlRescueLost, worker, held, grace)
}

const sqlRescueLost = `
WITH stuck AS (
    SELECT j.id, format('worker %s never received this job (its fetch committed unseen)', $1::text) AS msg
    FROM river_job j
    WHERE j.state = 'running'
      AND j.attempted_by[cardinality(j.attempted_by)] = $1
      AND j.attempted_at < now() - $3::interval
      AND NOT (j.id = ANY ($2::bigint[]))
    ORDER BY j.id
    FOR UPDATE OF j SKIP LOCKED
)` + sqlHandBack

// Final reports whether job id is final (completed, cancelled or
// discarded) or gone (River's cleaner deleted it).
func Final(ctx context.Context, q Querier, id int64) (bool, error) {
	rows, err := q.Query(ctx, `
SELECT state NOT IN ('completed', 'cancelled', 'discarded') FROM river_job WHERE id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("read job %d: %w", id, err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return false, fmt.Errorf("read job %d: %w", id, err)
	}
	return len(v) == 0 || !v[0], nil
}

// Unsettled is a finalized job whose node is still enqueued for its run.
type Unsettled struct {
	Job    *rivertype.JobRow
	State  rivertype.JobState
	Errors []json.RawMessage
}

// FindUnsettled returns up to limit jobs finalized between lookback and
// grace ago, and after since when it is not nil (completed, discarded or
// cancelled), whose node is still enqueued for the job's run: River
// finalized them outside the middleware.
func FindUnsettled(ctx context.Context, q Querier, grace, lookback time.Duration, since *time.Time, limit int) ([]Unsettled, error) {
	rows, err := q.Query(ctx, sqlFindUnsettled, grace, lookback, limit, since)
	if err != nil {
		return nil, fmt.Errorf("find unsettled jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Unsettled, error) {
		u := Unsettled{Job: &rivertype.JobRow{}}
		err := row.Scan(&u.Job.ID, &u.State, &u.Job.Attempt, &u.Job.AttemptedAt, &u.Job.Metadata, &u.Errors)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("find unsettled jobs: %w", err)
	}
	return out, nil
}

const sqlFindUnsettled = `
SELECT j.id, j.state::text, j.attempt, j.attempted_at, j.metadata, coalesce(j.errors, '{}')
FROM river_job j
JOIN qf_node n
  ON n.workflow_id = (j.metadata->>'qf_wf')::uuid
 AND n.idx = (j.metadata->>'qf_n')::int
 AND n.run = (j.metadata->>'qf_r')::int
WHERE j.state IN ('completed', 'discarded', 'cancelled')
  AND j.finalized_at < now() - $1::interval
  AND j.finalized_at > greatest(now() - $2::interval, $4::timestamptz)
  AND j.metadata ? 'qf_wf'
  AND n.state = 'enqueued'
ORDER BY j.id
LIMIT $3`

// LiveIDsTx returns the ids of the workflow's River jobs that are not
// finalized. Jobs are found through their metadata (River's GIN index on
// it), so the hot path never has to write job ids back to nodes.
func LiveIDsTx(ctx context.Context, tx pgx.Tx, wf string) ([]int64, error) {
	rows, err := tx.Query(ctx, `
SELECT id FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text)
  AND state NOT IN ('completed', 'cancelled', 'discarded')
ORDER BY id`, wf)
	if err != nil {
		return nil, fmt.Errorf("list jobs of workflow %s: %w", wf, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list jobs of workflow %s: %w", wf, err)
	}
	return ids, nil
}

// Job is a River job of a node, as a status report needs it.
type Job struct {
	ID          int64
	State       rivertype.JobState
	Attempt     int
	AttemptedAt *time.Time
	Errors      []json.RawMessage
}

// RunKey names one run of one node: (index, run generation).
type RunKey struct{ Idx, Run int32 }

// NewestByRunTx returns the newest job of each node run of the workflow.
func NewestByRunTx(ctx context.Context, tx pgx.Tx, wf string) (map[RunKey]Job, error) {
	rows, err := tx.Query(ctx, `
SELECT id, state::text, attempt, attempted_at, coalesce(errors, '{}'),
       (metadata->>'qf_n')::int, (metadata->>'qf_r')::int
FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text)
ORDER BY id`, wf)
	if err != nil {
		return nil, fmt.Errorf("jobs of workflow %s: %w", wf, err)
	}
	defer rows.Close()
	out := map[RunKey]Job{}
	for rows.Next() {
		var j Job
		var k RunKey
		if err := rows.Scan(&j.ID, &j.State, &j.Attempt, &j.AttemptedAt, &j.Errors, &k.Idx, &k.Run); err != nil {
			return nil, fmt.Errorf("jobs of workflow %s: %w", wf, err)
		}
		out[k] = j
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs of workflow %s: %w", wf, err)
	}
	return out, nil
}

// StartedTx records, for the rate limiter, that a running job's work
// starts at at: its attempted_at moves there (so River's timestamp says
// when the counted start was) and a start promised to it earlier (qf_res)
// is dropped from its metadata.
func StartedTx(ctx context.Context, tx pgx.Tx, id int64, at time.Time) error {
	if _, err := tx.Exec(ctx, `
UPDATE river_job SET attempted_at = $2, metadata = metadata - 'qf_res'
WHERE id = $1 AND state = 'running'`, id, at); err != nil {
		return fmt.Errorf("record start of job %d: %w", id, err)
	}
	return nil
}

// ReserveTx records in a running job's metadata (qf_res) the start time the
// rate limiter promised it; the job is snoozed until then, and River's
// snooze merges its own metadata into the row, keeping this key.
func ReserveTx(ctx context.Context, tx pgx.Tx, id int64, at time.Time) error {
	if _, err := tx.Exec(ctx, `
UPDATE river_job SET metadata = metadata || jsonb_build_object('qf_res', $2::timestamptz)
WHERE id = $1 AND state = 'running'`, id, at); err != nil {
		return fmt.Errorf("reserve a start for job %d: %w", id, err)
	}
	return nil
}

// HoldUntil is the scheduled_at of a held job: River schedules nothing that
// far ahead, so a held job is never fetched.
var HoldUntil = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// HoldTx holds the not yet running jobs of a workflow (byKind false, target
// its id) or of the workflow nodes of a kind: each is set scheduled at
// HoldUntil, its state and schedule kept in its metadata (qf_hold) for
// UnholdTx. Jobs locked by a fetch right now are waited for and then left
// alone if they started. It returns how many jobs it held.
func HoldTx(ctx context.Context, tx pgx.Tx, byKind bool, target string) (int, error) {
	match := `metadata @> jsonb_build_object('qf_wf', $1::text)`
	if byKind {
		match = `kind = $1 AND metadata ? 'qf_wf'`
	}
	tag, err := tx.Exec(ctx, `
UPDATE river_job SET
    metadata = metadata || jsonb_build_object('qf_hold', jsonb_build_object('state', state, 'at', scheduled_at)),
    state = 'scheduled', scheduled_at = $2
WHERE `+match+` AND state IN ('available', 'scheduled', 'retryable', 'pending') AND NOT metadata ? 'qf_hold'`, target, HoldUntil)
	if err != nil {
		return 0, fmt.Errorf("hold jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// UnholdTx puts the held jobs of a workflow or kind back on their schedule:
// due ones become available, the others keep their state and time. A job
// that another pause still covers (its workflow or its kind, in qf_pause)
// stays held. It returns how many jobs it released.
func UnholdTx(ctx context.Context, tx pgx.Tx, byKind bool, target string) (int, error) {
	match := `j.metadata @> jsonb_build_object('qf_wf', $1::text)`
	if byKind {
		match = `j.kind = $1`
	}
	tag, err := tx.Exec(ctx, `
UPDATE river_job j SET
    state = CASE WHEN (j.metadata->'qf_hold'->>'at')::timestamptz <= now() THEN 'available'
                 ELSE (j.metadata->'qf_hold'->>'state')::river_job_state END,
    scheduled_at = greatest((j.metadata->'qf_hold'->>'at')::timestamptz, now()),
    metadata = j.metadata - 'qf_hold'
WHERE `+match+` AND j.metadata ? 'qf_hold' AND j.state = 'scheduled'
  AND NOT EXISTS (SELECT 1 FROM qf_pause p
                  WHERE (p.scope = 'workflow' AND p.target = j.metadata->>'qf_wf')
                     OR (p.scope = 'kind' AND p.target = j.kind))`, target)
	if err != nil {
		return 0, fmt.Errorf("release held jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// WaitingJob is what `enqueue why` needs of a node's job that is not
// running.
type WaitingJob struct {
	ID          int64
	State       rivertype.JobState
	Queue       string
	Kind        string
	ScheduledAt time.Time
	Attempt     int
	// Reserved is the start the rate limiter promised the job (qf_res).
	Reserved *time.Time
	// Held is true while a pause holds the job (qf_hold).
	Held bool
}

// WaitingJobsTx returns the live, not running jobs of workflow wf by node
// index and run.
func WaitingJobsTx(ctx context.Context, tx pgx.Tx, wf string) (map[RunKey]WaitingJob, error) {
	rows, err := tx.Query(ctx, `
SELECT id, state::text, queue, kind, scheduled_at, attempt, (metadata->>'qf_res')::timestamptz,
       metadata ? 'qf_hold', (metadata->>'qf_n')::int, (metadata->>'qf_r')::int
FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text)
  AND state IN ('available', 'scheduled', 'retryable', 'pending')
ORDER BY id`, wf)
	if err != nil {
		return nil, fmt.Errorf("waiting jobs of workflow %s: %w", wf, err)
	}
	defer rows.Close()
	out := map[RunKey]WaitingJob{}
	for rows.Next() {
		var j WaitingJob
		var k RunKey
		if err := rows.Scan(&j.ID, &j.State, &j.Queue, &j.Kind, &j.ScheduledAt, &j.Attempt, &j.Reserved, &j.Held, &k.Idx, &k.Run); err != nil {
			return nil, fmt.Errorf("waiting jobs of workflow %s: %w", wf, err)
		}
		out[k] = j
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("waiting jobs of workflow %s: %w", wf, err)
	}
	return out, nil
}

// PausedQueuesTx returns the names of River's paused queues.
func PausedQueuesTx(ctx context.Context, q Querier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT name FROM river_queue WHERE paused_at IS NOT NULL ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("paused queues: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("paused queues: %w", err)
	}
	return names, nil
}

// NodeJobsTx returns the live jobs (not finalized) of a node's run.
func NodeJobsTx(ctx context.Context, tx pgx.Tx, wf string, idx, run int32) ([]Job, error) {
	rows, err := tx.Query(ctx, `
SELECT id, state::text, attempt, attempted_at, coalesce(errors, '{}')
FROM river_job
WHERE metadata @> jsonb_build_object('qf_wf', $1::text, 'qf_n', $2::int, 'qf_r', $3::int)
  AND state NOT IN ('completed', 'cancelled', 'discarded')
ORDER BY id`, wf, idx, run)
	if err != nil {
		return nil, fmt.Errorf("jobs of node %d: %w", idx, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Job, error) {
		var j Job
		err := row.Scan(&j.ID, &j.State, &j.Attempt, &j.AttemptedAt, &j.Errors)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("jobs of node %d: %w", idx, err)
	}
	return out, nil
}
