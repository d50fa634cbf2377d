#!/usr/bin/env bash
# test.sh: the project's one test command. Runs every Go test (with the race
# detector) against PostgreSQL: TEST_DATABASE_URL if set, otherwise whatever
# scripts/ensure-postgres.sh provides (DATABASE_URL, a local server with trust
# auth, or a private cluster it starts). Extra arguments go to `go test`,
# e.g. scripts/test.sh -run TestFanIn -v (then the separate module under
# deploy/kubernetes/check is not run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Go lives in /usr/local/go on our machines; CI shells may not have it on PATH.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

# Two steps: `export X=$(cmd)` would hide a failure of cmd from set -e.
if [ -z "${TEST_DATABASE_URL:-}" ]; then
	TEST_DATABASE_URL=$(scripts/ensure-postgres.sh)
fi
export TEST_DATABASE_URL

# At most 6 test packages at once (go test's default is one per core): each
# holds up to internal/pgtest's MaxSchemas schemas of PoolMaxConns + 1
# connections, and 6 × 2 × 6 = 72 stays within a default max_connections.
procs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
go test -race -count=1 -timeout 20m -p "$(( procs < 6 ? procs : 6 ))" ./... "$@"

# deploy/kubernetes/check is a module of its own (the Kubernetes, KEDA,
# prometheus-operator, kustomize and BuildKit types stay out of the main
# module): its offline checks of the manifests and the Dockerfile. On a cold
# module cache it downloads and compiles in a few minutes (docs/OPERATIONS.md).
# Extra arguments are for the main module's tests only.
if [ $# -eq 0 ]; then
	(cd deploy/kubernetes/check && go vet ./... && go test -count=1 -timeout 10m ./...)
fi
