// Package riverjob is the one place where QuantumFlow meets River's own
// tables: how a node becomes a River job (its args and metadata), how the
// released jobs are inserted, and every SQL statement that reads or writes
// river_job directly. Those statements were written against River's schema
// at migration version RiverMigrationVersion; a test pins it, so a River
// upgrade that changes the schema fails here first.
package riverjob

import (
	"encoding/json"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/tidwall/gjson"
)

// RiverMigrationVersion is the newest River migration the statements of
// this package were written against.
const RiverMigrationVersion = 8

// Meta is the part of a River job's metadata that ties the job to its node.
// The job's args are the node's args verbatim, so a worker written for
// plain River decodes them as usual.
type Meta struct {
	// Base is the node's attempts before this job (a workflow retry carries
	// them on).
	Base int32 `json:"qf_b,omitempty"`
	// Node is the node's index in its workflow.
	Node int32 `json:"qf_n"`
	// Path is the node's full id.
	Path string `json:"qf_path"`
	// Run is the node's run generation: a retry gives a rerun node a new
	// one, so a job of an earlier run can never settle it.
	Run int32 `json:"qf_r"`
	// TimeoutMS is the node's timeout, 0 for none.
	TimeoutMS int64 `json:"qf_t,omitempty"`
	// Workflow is the workflow's id.
	Workflow string `json:"qf_wf"`
	// RateKey, RateLimit and RatePerMS are the node's rate limit, checked
	// when the job starts; RateKey "" for none.
	RateKey   string `json:"qf_rk,omitempty"`
	RateLimit int32  `json:"qf_rl,omitempty"`
	RatePerMS int64  `json:"qf_rp,omitempty"`
	// RateReserved is the start time the rate limiter promised the job
	// when it last refused it (zero for none).
	RateReserved time.Time `json:"-"`
	// Retry is the node's retry backoff (RetryPolicy as JSON), nil for the
	// River client's policy.
	Retry json.RawMessage `json:"qf_rt,omitempty"`
}

// ParseMeta extracts the node a job belongs to; ok is false for a job that
// is not part of a workflow. It runs for every job a worker starts, so it
// reads only the keys it needs with gjson (River's own JSON reader):
// encoding/json took 10 µs a job, an eighth of the worker's CPU in the
// BenchmarkWide profile.
func ParseMeta(metadata []byte) (Meta, bool) {
	if len(metadata) == 0 || !gjson.ValidBytes(metadata) {
		return Meta{}, false
	}
	// One pass over the object's keys (GetMany scans it once per key).
	var m Meta
	var hasWF, hasNode bool
	gjson.ParseBytes(metadata).ForEach(func(key, v gjson.Result) bool {
		switch key.Str {
		case "qf_wf":
			m.Workflow, hasWF = v.Str, v.Type == gjson.String && v.Str != ""
		case "qf_n":
			m.Node, hasNode = int32(v.Int()), v.Type == gjson.Number
		case "qf_r":
			m.Run = int32(v.Int())
		case "qf_b":
			m.Base = int32(v.Int())
		case "qf_path":
			m.Path = v.Str
		case "qf_t":
			m.TimeoutMS = v.Int()
		case "qf_rk":
			m.RateKey = v.Str
		case "qf_rl":
			m.RateLimit = int32(v.Int())
		case "qf_rp":
			m.RatePerMS = v.Int()
		case "qf_rt":
			if v.IsObject() {
				m.Retry = json.RawMessage(v.Raw)
			}
		case "qf_res":
			if v.Type == gjson.String {
				m.RateReserved, _ = time.Parse(time.RFC3339Nano, v.Str)
			}
		}
		return true
	})
	if !hasWF || !hasNode {
		return Meta{}, false
	}
	return m, true
}

// Timeout returns the timeout of the node job belongs to, or 0 when the job
// is not part of a workflow or its node sets none.
func Timeout(job *rivertype.JobRow) time.Duration {
	meta, ok := ParseMeta(job.Metadata)
	if !ok {
		return 0
	}
	return time.Duration(meta.TimeoutMS) * time.Millisecond
}

// Args is the JobArgs of a node's job: the node's kind, and its args as
// encoded JSON.
type Args struct {
	kind string
	args json.RawMessage
}

// Kind is the node's kind.
func (a Args) Kind() string { return a.kind }

// MarshalJSON returns the node's args ({} when it has none).
func (a Args) MarshalJSON() ([]byte, error) {
	if len(a.args) == 0 {
		return []byte("{}"), nil
	}
	return a.args, nil
}

// UnmarshalJSON keeps the encoded args; river.JobCompleteTx decodes the
// returned row's args into the job's args type.
func (a *Args) UnmarshalJSON(b []byte) error {
	a.args = append(a.args[:0], b...)
	return nil
}

// LastError returns the message of the newest entry of a job's errors
// (River's AttemptError shape), or nil when there is none.
func LastError(errs []json.RawMessage) *string {
	if len(errs) == 0 {
		return nil
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(errs[len(errs)-1], &e) != nil || e.Error == "" {
		return nil
	}
	return &e.Error
}

// RetryPolicy is a node's retry backoff as stored on the node (qf_node.retry)
// and carried in its job's metadata (qf_rt).
type RetryPolicy struct {
	// Backoff is "exponential" or "constant".
	Backoff string `json:"backoff"`
	// BaseMS and MaxMS are the base delay and the cap (0 for none).
	BaseMS int64 `json:"base_ms"`
	MaxMS  int64 `json:"max_ms,omitempty"`
	// Jitter spreads each delay over [d/2, d].
	Jitter bool `json:"jitter,omitempty"`
}

// EncodeRetry returns p as JSON.
func EncodeRetry(p RetryPolicy) []byte {
	b, _ := json.Marshal(p) // A struct of strings, numbers and bools cannot fail.
	return b
}
