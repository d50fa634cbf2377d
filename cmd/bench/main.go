// Command bench measures QuantumFlow against plain River on one PostgreSQL,
// in one run: the same work (no-op jobs in the shapes of issue 4: a chain, a
// wide fan-out and fan-in, a 10 000 → 1 join, a three-level hierarchy, many
// small workflows at once, and the submission of a 100 000-node DAG), run
// once by River alone and once by QuantumFlow, with the same River client
// settings. It prints both sides and their ratio, as a table or as JSON.
//
// Timings come from the database's own timestamps (river_job.attempted_at
// and finalized_at), database cost from pg_stat_database and the WAL
// position, and memory from the peak RSS of the worker processes.
//
// The workers run as child processes of bench itself (the same binary,
// started with QFBENCH_CHILD in its environment), one per phase, so that
// each side's peak RSS is its own and a crashed phase cannot take the
// benchmark down. docs/BENCHMARKS.md has the commands and a run's results.
//
// "bench ingest" is the code-ingestion benchmark: it copies a tree (default
// $(go env GOROOT)/src), starts --workers standard worker processes on a
// fresh schema and measures a full ingest, a re-ingest of the unchanged
// tree, watch edits until symbol search finds them, search p50/p95 per mode,
// the index size against the corpus, and an anchor (the same per-file work
// in-process without the engine) in the same run, and prints issue 10's
// goals beside the measured values ("bench ingest --help" for the flags):
//
//	go run ./cmd/bench ingest --database-url 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
//
// Exit codes: 0 every shape ran; 1 a shape failed, the database was
// unreachable or the run was interrupted; 2 bad flags.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if spec, ok := childSpecFromEnv(); ok {
		// A phase's worker, submitter or inserter, started by the bench.
		if err := runChild(context.Background(), spec); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
