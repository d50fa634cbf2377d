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
	Run        string     `json:"run"`
	Codebase   string     `json:"codebase"`
	Status     string     `json:"status"`
	Files      FileCounts `json:"files"`
	Symbols    int        `json:"symbols"`
	Chunks     int        `json:"chunks"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt time.Time  `json:"finished_at"`
}

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
}
