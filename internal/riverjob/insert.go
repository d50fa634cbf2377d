package riverjob

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Ref names one node: its workflow and its index.
type Ref struct {
	WF  string
	Idx int32
}

// Leaf is what it takes to turn a node into a River job.
type Leaf struct {
	Ref
	Path        string
	Kind        *string
	Args        []byte
	Queue       *string
	Priority    *int16
	MaxAttempts *int32
	TimeoutMS   *int64
	Run         int32
	AttemptBase int32
	Flow
}

// Flow is a leaf's flow control (docs/FLOWCONTROL.md); nil fields are not
// set.
type Flow struct {
	// ConcKey and ConcLimit are the leaf's concurrency limit: the release
	// engine gives the leaf a job only when it holds one of the key's slots.
	ConcKey   *string
	ConcLimit *int32
	// RateKey, RateLimit and RatePerMS are its rate limit, checked by the
	// middleware when the job starts; they travel in the job's metadata.
	RateKey   *string
	RateLimit *int32
	RatePerMS *int64
	// DelayMS and NotBefore schedule the job: it becomes available at
	// max(now + delay, not_before).
	DelayMS   *int64
	NotBefore *time.Time
	// Retry is the leaf's retry backoff as JSON (RetryPolicy), copied into
	// the job's metadata.
	Retry []byte
}

// LeafColumns are the qf_node columns (alias q) that fill a Leaf, in the
// order of Leaf.Dest.
const LeafColumns = `q.workflow_id::text, q.idx, q.path, q.kind, q.args, q.queue, q.priority,
    q.max_attempts, q.timeout_ms, q.run, q.attempt_base,
    q.conc_key, q.conc_limit, q.rate_key, q.rate_limit, q.rate_per_ms, q.delay_ms, q.not_before, q.retry`

// Dest returns scan destinations for LeafColumns.
func (l *Leaf) Dest() []any {
	return []any{&l.WF, &l.Idx, &l.Path, &l.Kind, &l.Args, &l.Queue, &l.Priority,
		&l.MaxAttempts, &l.TimeoutMS, &l.Run, &l.AttemptBase,
		&l.ConcKey, &l.ConcLimit, &l.RateKey, &l.RateLimit, &l.RatePerMS, &l.DelayMS, &l.NotBefore, &l.Retry}
}

// fastInsertThreshold is the batch size from which jobs go in through COPY
// (InsertManyFastTx) instead of a multi-row INSERT.
const fastInsertThreshold = 500

// insertChunk bounds the jobs inserted by one River call.
const insertChunk = 5_000

// InsertTx creates one River job per leaf in tx, through rc (a River client;
// an insert-only one inserts any kind). River sends its insert notification
// in the same transaction (at most once per queue per fetch cooldown), which
// wakes workers as soon as tx commits.
func InsertTx(ctx context.Context, rc *river.Client[pgx.Tx], tx pgx.Tx, leaves []Leaf) error {
	// In chunks: River builds its own copy of every job it inserts, and a
	// node that releases 100 000 dependents would otherwise hold all of
	// them at once (a 1 -> 100 000 -> 1 workflow took a worker from 45 MB
	// to 200 MB).
	for start := 0; start < len(leaves); start += insertChunk {
		if err := insertChunkTx(ctx, rc, tx, leaves[start:min(start+insertChunk, len(leaves))]); err != nil {
			return err
		}
	}
	return nil
}

func insertChunkTx(ctx context.Context, rc *river.Client[pgx.Tx], tx pgx.Tx, leaves []Leaf) error {
	if len(leaves) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(leaves))
	now := time.Now()
	for i, l := range leaves {
		meta := Meta{Base: l.AttemptBase, Node: l.Idx, Path: l.Path, Run: l.Run, Workflow: l.WF}
		if l.RateKey != nil && l.RateLimit != nil && l.RatePerMS != nil {
			meta.RateKey, meta.RateLimit, meta.RatePerMS = *l.RateKey, *l.RateLimit, *l.RatePerMS
		}
		if len(l.Retry) > 0 {
			meta.Retry = json.RawMessage(l.Retry)
		}
		opts := &river.InsertOpts{}
		if l.Queue != nil {
			opts.Queue = *l.Queue
		}
		if l.Priority != nil {
			opts.Priority = int(*l.Priority)
		}
		if l.MaxAttempts != nil {
			opts.MaxAttempts = int(*l.MaxAttempts)
		}
		if l.TimeoutMS != nil {
			meta.TimeoutMS = *l.TimeoutMS
		}
		if at := l.scheduledAt(now); !at.IsZero() {
			opts.ScheduledAt = at
		}
		b, err := json.Marshal(meta)
		if err != nil {
			return fmt.Errorf("encode metadata of %s: %w", l.Path, err)
		}
		opts.Metadata = b
		kind := ""
		if l.Kind != nil {
			kind = *l.Kind
		}
		params[i] = river.InsertManyParams{Args: Args{kind: kind, args: l.Args}, InsertOpts: opts}
	}
	var err error
	if len(params) >= fastInsertThreshold {
		_, err = rc.InsertManyFastTx(ctx, tx, params)
	} else {
		_, err = rc.InsertManyTx(ctx, tx, params)
	}
	if err != nil {
		return fmt.Errorf("insert %d jobs: %w", len(params), err)
	}
	return nil
}

// scheduledAt is when the leaf's job may start, max(now + delay,
// not_before), or zero for at once.
func (l *Leaf) scheduledAt(now time.Time) time.Time {
	var at time.Time
	if l.DelayMS != nil && *l.DelayMS > 0 {
		at = now.Add(time.Duration(*l.DelayMS) * time.Millisecond)
	}
	if l.NotBefore != nil && l.NotBefore.After(now) && l.NotBefore.After(at) {
		at = *l.NotBefore
	}
	return at
}
