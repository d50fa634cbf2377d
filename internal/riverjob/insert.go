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
	// Ctl is the leaf's flow control, nil when it has none (most leaves:
	// a pointer keeps a release of many leaves small).
	Ctl *Flow
}

// Flow is a leaf's flow control (docs/FLOWCONTROL.md); nil fields are not
// set.
type Flow struct {
	// ConcKey and ConcLimit are the leaf's concurrency limit: the release
	// engine gives the leaf a job only when it holds one of the key's slots.
	ConcKey   *string `json:"ck"`
	ConcLimit *int32  `json:"cl"`
	// RateKey, RateLimit and RatePerMS are its rate limit, checked by the
	// middleware when the job starts; they travel in the job's metadata.
	RateKey   *string `json:"rk"`
	RateLimit *int32  `json:"rl"`
	RatePerMS *int64  `json:"rp"`
	// DelayMS and NotBefore schedule the job: it becomes available at
	// max(now + delay, not_before).
	DelayMS   *int64     `json:"d"`
	NotBefore *time.Time `json:"nb"`
	// Retry is the leaf's retry backoff as JSON (RetryPolicy), copied into
	// the job's metadata.
	Retry json.RawMessage `json:"rt"`
}

// flowScanner scans LeafColumns' flow-control object (NULL when the node
// has none) into a *Flow.
type flowScanner struct{ dst **Flow }

// Scan implements sql.Scanner.
func (s flowScanner) Scan(src any) error {
	*s.dst = nil
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("flow control: unexpected %T", src)
	}
	f := &Flow{}
	if err := json.Unmarshal(b, f); err != nil {
		return fmt.Errorf("flow control: %w", err)
	}
	if string(f.Retry) == "null" {
		f.Retry = nil
	}
	*s.dst = f
	return nil
}

// LeafColumns are the qf_node columns (alias q) that fill a Leaf, in the
// order of Leaf.Dest.
//
// The flow-control columns come as one JSON object, NULL for a node
// without any, so a leaf without them costs one NULL column and a nil
// pointer.
const LeafColumns = `q.workflow_id::text, q.idx, q.path, q.kind, q.args, q.queue, q.priority,
    q.max_attempts, q.timeout_ms, q.run, q.attempt_base,
    CASE WHEN q.conc_key IS NULL AND q.rate_key IS NULL AND q.delay_ms IS NULL
              AND q.not_before IS NULL AND q.retry IS NULL THEN NULL
         ELSE json_build_object('ck', q.conc_key, 'cl', q.conc_limit, 'rk', q.rate_key, 'rl', q.rate_limit,
                                'rp', q.rate_per_ms, 'd', q.delay_ms, 'nb', q.not_before, 'rt', q.retry)::text END`

// Dest returns scan destinations for LeafColumns.
func (l *Leaf) Dest() []any {
	return []any{&l.WF, &l.Idx, &l.Path, &l.Kind, &l.Args, &l.Queue, &l.Priority,
		&l.MaxAttempts, &l.TimeoutMS, &l.Run, &l.AttemptBase, flowScanner{&l.Ctl}}
}

// ConcKey returns the leaf's concurrency key, nil for none.
func (l *Leaf) ConcKey() *string {
	if l.Ctl == nil {
		return nil
	}
	return l.Ctl.ConcKey
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
		if f := l.Ctl; f != nil {
			if f.RateKey != nil && f.RateLimit != nil && f.RatePerMS != nil {
				meta.RateKey, meta.RateLimit, meta.RatePerMS = *f.RateKey, *f.RateLimit, *f.RatePerMS
			}
			if len(f.Retry) > 0 {
				meta.Retry = f.Retry
			}
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
		if l.Ctl != nil {
			if at := l.Ctl.scheduledAt(now); !at.IsZero() {
				opts.ScheduledAt = at
			}
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
func (f *Flow) scheduledAt(now time.Time) time.Time {
	var at time.Time
	if f.DelayMS != nil && *f.DelayMS > 0 {
		at = now.Add(time.Duration(*f.DelayMS) * time.Millisecond)
	}
	if f.NotBefore != nil && f.NotBefore.After(now) && f.NotBefore.After(at) {
		at = *f.NotBefore
	}
	return at
}
