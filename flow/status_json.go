package flow

import (
	"encoding/json"
	"time"
)

// The status types marshal their times with a fixed six-digit fraction
// (PostgreSQL's precision), in UTC: docs/SPEC.md asks for RFC 3339 with
// sub-second precision, and time.Time's own marshalling drops the fraction
// of a time that falls exactly on a second.

// jsonTimeFormat is RFC 3339 with microseconds, always present.
const jsonTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// jsonTime marshals a time in jsonTimeFormat.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(jsonTimeFormat)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, jsonTimeFormat)
	return append(b, '"'), nil
}

func optTime(t *time.Time) *jsonTime {
	if t == nil {
		return nil
	}
	j := jsonTime(*t)
	return &j
}

// MarshalJSON writes s in the shape of docs/SPEC.md with fixed-precision times.
func (s WorkflowStatus) MarshalJSON() ([]byte, error) {
	type plain WorkflowStatus
	return json.Marshal(struct {
		plain
		CreatedAt  jsonTime  `json:"created_at"`
		StartedAt  *jsonTime `json:"started_at"`
		FinishedAt *jsonTime `json:"finished_at"`
	}{plain(s), jsonTime(s.CreatedAt), optTime(s.StartedAt), optTime(s.FinishedAt)})
}

// MarshalJSON writes n in the shape of docs/SPEC.md with fixed-precision times.
func (n NodeStatus) MarshalJSON() ([]byte, error) {
	type plain NodeStatus
	return json.Marshal(struct {
		plain
		StartedAt  *jsonTime `json:"started_at"`
		FinishedAt *jsonTime `json:"finished_at"`
	}{plain(n), optTime(n.StartedAt), optTime(n.FinishedAt)})
}

// MarshalJSON writes s with fixed-precision times.
func (s WorkflowSummary) MarshalJSON() ([]byte, error) {
	type plain WorkflowSummary
	return json.Marshal(struct {
		plain
		CreatedAt  jsonTime  `json:"created_at"`
		StartedAt  *jsonTime `json:"started_at"`
		FinishedAt *jsonTime `json:"finished_at"`
	}{plain(s), jsonTime(s.CreatedAt), optTime(s.StartedAt), optTime(s.FinishedAt)})
}
