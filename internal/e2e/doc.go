// Package e2e holds QuantumFlow's end-to-end tests: they build the real
// enqueue and worker binaries once, then run them as processes against a
// fresh, migrated PostgreSQL schema per test (internal/pgtest), the way
// people and scripts use them: exit codes, stdout and stderr are the
// interface under test.
//
// The package has no non-test code; run it with
//
//	go test -race -count=1 ./internal/e2e/
package e2e
