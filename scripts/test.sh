#!/usr/bin/env bash
# test.sh: the project's one test command. Runs every Go test (with the race
# detector) against PostgreSQL: TEST_DATABASE_URL if set, otherwise whatever
# scripts/ensure-postgres.sh provides (DATABASE_URL, a local server with trust
# auth, or a private cluster it starts). Extra arguments go to `go test`,
# e.g. scripts/test.sh -run TestFanIn -v
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

exec go test -race -count=1 -timeout 20m ./... "$@"
