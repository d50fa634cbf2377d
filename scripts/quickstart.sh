#!/usr/bin/env bash
# quickstart.sh: run one example workflow end to end. Finds or starts
# PostgreSQL (scripts/ensure-postgres.sh), migrates it, works the workflow
# in-process and prints its final status. Extra arguments go to the program,
# e.g. scripts/quickstart.sh -spec examples/hello.yaml
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
if [ -z "${DATABASE_URL:-}" ]; then
	DATABASE_URL=$(scripts/ensure-postgres.sh)
fi
export DATABASE_URL
exec go run ./internal/quickstart "$@"
