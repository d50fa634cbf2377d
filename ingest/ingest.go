// Package ingest is code ingestion's public face: Submit starts an ingest
// run (a workflow whose scan node expands into one sub-DAG per new or
// changed file), and Search, Codebases and History read what runs stored.
// The steps themselves are River workers in package jobs/ingest, which the
// standard worker registers. docs/INGESTION.md has the design.
package ingest

import "time"

// NotifyChannel is the PostgreSQL channel on which completion_notification
// sends one Notification (JSON) per finished run.
const NotifyChannel = "quantumflow_ingest"

// FileCounts counts a run's files by what the scan found.
type FileCounts struct {
	New       int `json:"new"`
	Changed   int `json:"changed"`
	Removed   int `json:"removed"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
}

// Notification is the payload sent on NotifyChannel when a run finishes,
// and the row kept for it in qf_ingest_run.
type Notification struct {
	Run string `json:"run"`
	// Schema is the schema the run's tables are in. Channels are per
	// database, so listeners of several QuantumFlow schemas in one
	// database hear each other's runs: match Run (or Schema) to yours.
	Schema     string     `json:"schema"`
	Codebase   string     `json:"codebase"`
	Status     string     `json:"status"`
	Files      FileCounts `json:"files"`
	Symbols    int        `json:"symbols"`
	Chunks     int        `json:"chunks"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt time.Time  `json:"finished_at"`
	// Failed counts the steps that failed for good (0 when Status is
	// "completed"); FailedSteps names the first of them (at most
	// MaxFailedListed), each with its error.
	Failed      int          `json:"failed"`
	FailedSteps []FailedStep `json:"failed_steps,omitempty"`
}

// FailedStep is a step of a run that failed for good.
type FailedStep struct {
	// Node is the node's path, such as
	// "scan/net_http_server_go-1a2b3c4d/embedding_generation".
	Node string `json:"node"`
	// Step is the step's name, such as "embedding_generation".
	Step string `json:"step"`
	// Path is the file the step was for, "" for a run-level step.
	Path string `json:"path,omitempty"`
	// Error is the step's last error.
	Error string `json:"error"`
}

// MaxFailedListed caps Notification.FailedSteps.
const MaxFailedListed = 10

// Run statuses, in qf_ingest_run and Notification.Status.
const (
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Kinds of the run-level nodes (jobs/ingest registers them and the per-file
// ones).
const (
	KindScan                   = "ingest.scan"
	KindCodeGraphBuilding      = "ingest.code_graph_building"
	KindCompletionNotification = "ingest.completion_notification"
)

// Node ids of the run-level nodes.
const (
	NodeScan                   = "scan"
	NodeCodeGraphBuilding      = "code_graph_building"
	NodeCompletionNotification = "completion_notification"
)

// RunInput is the workflow input of an ingest run, which every step reads
// with flow.Input.
type RunInput struct {
	Codebase    string    `json:"codebase"`
	CodebaseID  int64     `json:"codebase_id"`
	Root        string    `json:"root"`
	Excludes    []string  `json:"excludes,omitempty"`
	Priority    string    `json:"priority"`
	MaxAttempts int       `json:"max_attempts,omitempty"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// ScanOutput is the scan node's output: the counts, and the skipped files
// (at most MaxSkippedListed; Files.Skipped counts them all).
type ScanOutput struct {
	Files   FileCounts    `json:"files"`
	Skipped []SkippedFile `json:"skipped,omitempty"`
}

// SkippedFile is a file the scan skipped.
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// MaxSkippedListed caps ScanOutput.Skipped (node outputs are stored per
// node; qf_code_file has every skip).
const MaxSkippedListed = 200

// Options describe an ingest run.
type Options struct {
	// Path is the directory to ingest; workers read it, so it must be the
	// same path on their machines (a shared volume in a fleet).
	Path string
	// Codebase names the codebase, [a-zA-Z0-9_.-]{1,128}; empty means the
	// base name of Path.
	Codebase string
	// Priority is the River priority name of the run's nodes (realtime,
	// high, normal, bulk); empty means bulk.
	Priority string
	// Excludes are extra gitignore-style patterns relative to Path.
	Excludes []string
	// MaxAttempts is the max_attempts of the run's nodes (per-file steps
	// included); 0 means the worker's setting, else 3.
	MaxAttempts int
}
