package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// How long a snapshot waits for the backends of closed connections to exit
// (and flush their statistics), and how long it then waits more: a backend
// leaves pg_stat_activity just before it flushes its statistics at exit.
const (
	backendsGoneTimeout = 15 * time.Second
	flushSettle         = 50 * time.Millisecond
)

// dbSnapshot is pg_stat_database for the benchmark's database and the WAL
// position at one instant.
type dbSnapshot struct {
	commits, rollbacks         int64
	inserted, updated, deleted int64
	walLSN                     uint64
	otherCommits               int64 // every other database together
	serverVersionNum           int
}

// DBCost is what a phase cost the database: deltas of pg_stat_database
// (for the benchmark's database) and of the WAL position (for the whole
// server), from before its setup to after its workers exited.
type DBCost struct {
	Commits      int64 `json:"commits"`
	Rollbacks    int64 `json:"rollbacks"`
	RowsInserted int64 `json:"rows_inserted"`
	RowsUpdated  int64 `json:"rows_updated"`
	RowsDeleted  int64 `json:"rows_deleted"`
	WALBytes     int64 `json:"wal_bytes"`
	// BenchPolls are the bench's own read-only transactions that asked
	// whether the phase was done; they are subtracted from Commits.
	BenchPolls int64 `json:"bench_polls_subtracted"`
	// OtherDatabasesCommits are commits in every other database of the
	// server meanwhile: when not ~0, WALBytes includes their writes.
	OtherDatabasesCommits int64 `json:"other_databases_commits"`

	// Per node (QuantumFlow) or job (River): divided by the phase's count.
	CommitsPerNode      float64 `json:"commits_per_node"`
	RowsInsertedPerNode float64 `json:"rows_inserted_per_node"`
	RowsUpdatedPerNode  float64 `json:"rows_updated_per_node"`
	WALBytesPerNode     float64 `json:"wal_bytes_per_node"`
}

// snapshot reads the statistics once the backends of apps (closed pools,
// exited workers) are gone, so that their statistics are flushed. It uses
// a connection of its own, closed afterwards.
func (b *bench) snapshot(ctx context.Context, apps ...string) (*dbSnapshot, error) {
	conn, err := connect(ctx, b.env.url, b.app("stats"))
	if err != nil {
		return nil, fmt.Errorf("statistics: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	deadline := time.Now().Add(backendsGoneTimeout)
	for {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = ANY($1) AND pid <> pg_backend_pid()`, apps).Scan(&n); err != nil {
			return nil, fmt.Errorf("statistics: wait for closed sessions: %w", err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("statistics: %d sessions of %s still open after %s", n, strings.Join(apps, ", "), backendsGoneTimeout)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if err := sleepCtx(ctx, flushSettle); err != nil {
		return nil, err
	}
	s := &dbSnapshot{}
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&s.serverVersionNum); err != nil {
		return nil, fmt.Errorf("statistics: server version: %w", err)
	}
	if s.serverVersionNum >= 150000 {
		// Statistics live in shared memory since PostgreSQL 15; this
		// session's own are flushed at its next transaction end.
		if _, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			return nil, fmt.Errorf("statistics: pg_stat_force_next_flush: %w", err)
		}
	} else if err := sleepCtx(ctx, time.Second); err != nil { // the collector's delay
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		return nil, fmt.Errorf("statistics: pg_stat_clear_snapshot: %w", err)
	}
	var lsn string
	err = conn.QueryRow(ctx, `SELECT d.xact_commit, d.xact_rollback, d.tup_inserted, d.tup_updated, d.tup_deleted,
			pg_current_wal_lsn()::text,
			(SELECT coalesce(sum(o.xact_commit), 0)::bigint FROM pg_stat_database o
			  WHERE o.datname IS DISTINCT FROM current_database())
		FROM pg_stat_database d WHERE d.datname = current_database()`).
		Scan(&s.commits, &s.rollbacks, &s.inserted, &s.updated, &s.deleted, &lsn, &s.otherCommits)
	if err != nil {
		return nil, fmt.Errorf("statistics: read pg_stat_database: %w", err)
	}
	if s.walLSN, err = parseLSN(lsn); err != nil {
		return nil, fmt.Errorf("statistics: %w", err)
	}
	return s, nil
}

// cost is the difference from before to after, for a phase of nodes nodes
// during which the bench polled polls times.
func cost(before, after *dbSnapshot, polls int64, nodes int) DBCost {
	c := DBCost{
		Commits:               after.commits - before.commits - polls,
		Rollbacks:             after.rollbacks - before.rollbacks,
		RowsInserted:          after.inserted - before.inserted,
		RowsUpdated:           after.updated - before.updated,
		RowsDeleted:           after.deleted - before.deleted,
		WALBytes:              int64(after.walLSN - before.walLSN),
		BenchPolls:            polls,
		OtherDatabasesCommits: after.otherCommits - before.otherCommits,
	}
	if nodes > 0 {
		n := float64(nodes)
		c.CommitsPerNode = float64(c.Commits) / n
		c.RowsInsertedPerNode = float64(c.RowsInserted) / n
		c.RowsUpdatedPerNode = float64(c.RowsUpdated) / n
		c.WALBytesPerNode = float64(c.WALBytes) / n
	}
	return c
}

// parseLSN parses a pg_lsn such as 0/16B3748 into a byte position.
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("WAL position %q: want X/Y", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("WAL position %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("WAL position %q: %w", s, err)
	}
	return h<<32 | l, nil
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
