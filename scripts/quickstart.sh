#!/usr/bin/env bash
# quickstart.sh: the README's first command. On a fresh machine it
#   1. finds PostgreSQL, or starts a private one from the system's binaries
#      under .data/ (scripts/ensure-postgres.sh; DATABASE_URL wins if set);
#   2. builds bin/worker and bin/enqueue;
#   3. applies the migrations (worker migrate);
#   4. starts two workers in the background (logs in .data/quickstart/);
#   5. submits examples/quickstart.yaml and follows it with a progress bar
#      (enqueue submit --wait);
#   6. prints the workflow's status tree (enqueue status);
#   7. stops the workers (SIGTERM: they finish what they run and exit).
# It exits 0 only when the workflow completed.
#
# Usage: scripts/quickstart.sh [SPEC]   (default examples/quickstart.yaml)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
spec=${1:-examples/quickstart.yaml}
[ -f "$spec" ] || {
	echo "quickstart: no spec at $spec" >&2
	exit 2
}

say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
[ -t 2 ] || say() { printf '\n==> %s\n' "$*" >&2; }

say "PostgreSQL"
if [ -z "${DATABASE_URL:-}" ]; then
	DATABASE_URL=$(scripts/ensure-postgres.sh)
fi
export DATABASE_URL
printf 'using %s\n' "$(printf '%s' "$DATABASE_URL" | sed -E 's#(://[^:/@?]*):[^@]*@#\1:****@#; s#(password=)[^&[:space:]]*#\1****#')" >&2

say "building bin/worker and bin/enqueue"
mkdir -p bin
go build -o bin/worker ./cmd/worker
go build -o bin/enqueue ./cmd/enqueue

say "migrating the database"
bin/worker migrate

say "starting two workers (logs: .data/quickstart/worker-{1,2}.log)"
logs=.data/quickstart
mkdir -p "$logs"
pids=()
stop_workers() {
	[ ${#pids[@]} -gt 0 ] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}
trap stop_workers EXIT
for i in 1 2; do
	bin/worker --queues default=20 --metrics-addr 127.0.0.1:0 --log-format json --shutdown-grace 10s \
		>"$logs/worker-$i.log" 2>&1 &
	pids+=($!)
done

say "submitting $spec and following it"
# The progress bar goes to stderr; stdout is the workflow id.
rc=0
id=$(bin/enqueue submit --wait "$spec") || rc=$?
if [ -z "$id" ]; then
	exit "$rc"
fi

say "status of $id"
bin/enqueue status "$id" || true

say "stopping the workers"
stop_workers
trap - EXIT
if [ "$rc" -eq 0 ]; then
	printf '\nquick start: workflow %s completed. Next: bin/enqueue --help, bin/worker --help, README.md\n' "$id" >&2
else
	printf '\nquick start: workflow %s did not complete (exit %d); worker logs are in %s\n' "$id" "$rc" "$logs" >&2
fi
exit "$rc"
