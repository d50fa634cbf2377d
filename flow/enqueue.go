package flow

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/tidwall/gjson"
)

// leafRow is what it takes to turn a node into a River job.
type leafRow struct {
	nodeRef
	path        string
	kind        *string
	args        []byte
	queue       *string
	priority    *int16
	maxAttempts *int32
	timeoutMS   *int64
	run         int32
	attemptBase int32
}

// sqlLeafColumns are the qf_node columns (alias q) that fill a leafRow, in
// the order of leafRow.dest.
const sqlLeafColumns = `q.workflow_id::text, q.idx, q.path, q.kind, q.args, q.queue, q.priority,
    q.max_attempts, q.timeout_ms, q.run, q.attempt_base`

// dest returns scan destinations for sqlLeafColumns.
func (l *leafRow) dest() []any {
	return []any{&l.wf, &l.idx, &l.path, &l.kind, &l.args, &l.queue, &l.priority,
		&l.maxAttempts, &l.timeoutMS, &l.run, &l.attemptBase}
}

// jobMeta is the part of a River job's metadata that ties the job to its
// node. The job's args are the node's args verbatim, so a worker written for
// plain River decodes them as usual.
type jobMeta struct {
	Base      int32  `json:"qf_b,omitempty"`
	Node      int32  `json:"qf_n"`
	Path      string `json:"qf_path"`
	Run       int32  `json:"qf_r"`
	TimeoutMS int64  `json:"qf_t,omitempty"`
	Workflow  string `json:"qf_wf"`
}

// parseJobMeta extracts the node a job belongs to; ok is false for a job
// that is not part of a workflow. It runs for every job a worker starts, so
// it reads only the keys it needs with gjson (River's own JSON reader):
// encoding/json took 10 µs a job, an eighth of the worker's CPU in the
// BenchmarkWide profile.
func parseJobMeta(metadata []byte) (jobMeta, bool) {
	if len(metadata) == 0 || !gjson.ValidBytes(metadata) {
		return jobMeta{}, false
	}
	r := gjson.GetManyBytes(metadata, "qf_wf", "qf_n", "qf_r", "qf_b", "qf_path", "qf_t")
	if r[0].Type != gjson.String || r[0].Str == "" || r[1].Type != gjson.Number {
		return jobMeta{}, false
	}
	return jobMeta{
		Workflow:  r[0].Str,
		Node:      int32(r[1].Int()),
		Run:       int32(r[2].Int()),
		Base:      int32(r[3].Int()),
		Path:      r[4].Str,
		TimeoutMS: r[5].Int(),
	}, true
}

// nodeArgs is the JobArgs of a node's job: the node's kind, and its args as
// the encoded JSON.
type nodeArgs struct {
	kind string
	args json.RawMessage
}

func (a nodeArgs) Kind() string { return a.kind }

func (a nodeArgs) MarshalJSON() ([]byte, error) {
	if len(a.args) == 0 {
		return []byte("{}"), nil
	}
	return a.args, nil
}

// fastInsertThreshold is the batch size from which jobs go in through COPY
// (InsertManyFastTx) instead of a multi-row INSERT.
const fastInsertThreshold = 500

// insertJobs creates one River job per leaf in tx. River sends its insert
// notification in the same transaction (at most once per queue per fetch
// cooldown), which wakes workers as soon as tx commits.
func insertJobs(ctx context.Context, rc *river.Client[pgx.Tx], tx pgx.Tx, leaves []leafRow) error {
	// In chunks: River builds its own copy of every job it inserts, and a
	// node that releases 100 000 dependents would otherwise hold all of
	// them at once (a 1 -> 100 000 -> 1 workflow took a worker from 45 MB
	// to 200 MB).
	for start := 0; start < len(leaves); start += insertChunk {
		if err := insertJobChunk(ctx, rc, tx, leaves[start:min(start+insertChunk, len(leaves))]); err != nil {
			return err
		}
	}
	return nil
}

// insertChunk bounds the jobs inserted by one River call.
const insertChunk = 5_000

func insertJobChunk(ctx context.Context, rc *river.Client[pgx.Tx], tx pgx.Tx, leaves []leafRow) error {
	if len(leaves) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(leaves))
	for i, l := range leaves {
		meta := jobMeta{Base: l.attemptBase, Node: l.idx, Path: l.path, Run: l.run, Workflow: l.wf}
		opts := &river.InsertOpts{}
		if l.queue != nil {
			opts.Queue = *l.queue
		}
		if l.priority != nil {
			opts.Priority = int(*l.priority)
		}
		if l.maxAttempts != nil {
			opts.MaxAttempts = int(*l.maxAttempts)
		}
		if l.timeoutMS != nil {
			meta.TimeoutMS = *l.timeoutMS
		}
		b, err := json.Marshal(meta)
		if err != nil {
			return fmt.Errorf("encode metadata of %s: %w", l.path, err)
		}
		opts.Metadata = b
		kind := ""
		if l.kind != nil {
			kind = *l.kind
		}
		params[i] = river.InsertManyParams{Args: nodeArgs{kind: kind, args: l.args}, InsertOpts: opts}
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
