#!/usr/bin/env bash
# stop-postgres.sh: stop the private cluster that scripts/ensure-postgres.sh
# started (same QF_PG_DATA resolution). A no-op when there is no private
# cluster or it is not running; never touches any other server.
#
#   --status   exit 0 if the private cluster is running, 3 if not (no change)
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
readonly MARKER='# quantumflow-private-cluster (managed by scripts/ensure-postgres.sh)'

log() { printf 'stop-postgres: %s\n' "$*" >&2; }

mode=stop
case ${1:-} in
'') ;;
--status) mode=status ;;
*)
	log "unknown argument: $1 (usage: $0 [--status])"
	exit 2
	;;
esac

DATA_DIR=$("$SCRIPTS/ensure-postgres.sh" --data-dir)

if [ ! -s "$DATA_DIR/PG_VERSION" ] || ! grep -qxF "$MARKER" "$DATA_DIR/postgresql.conf" 2>/dev/null; then
	[ "$mode" = status ] && exit 3
	log "no private cluster in $DATA_DIR; nothing to stop"
	exit 0
fi

version=$(cat "$DATA_DIR/PG_VERSION")
BINDIR=${QF_PG_BINDIR:-/usr/lib/postgresql/$version/bin}
if [ ! -x "$BINDIR/pg_ctl" ]; then
	BINDIR=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
fi
if [ ! -x "$BINDIR/pg_ctl" ]; then
	log "no pg_ctl found for PostgreSQL $version; cannot manage $DATA_DIR"
	[ "$mode" = status ] && exit 3
	exit 1
fi

# pg_ctl refuses to run as root: run it as the cluster's owner.
. "$(dirname "${BASH_SOURCE[0]}")/lib/as-postgres.sh"
run_pg() { as_postgres "$@"; }

if ! run_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; then
	[ "$mode" = status ] && exit 3
	log "private cluster in $DATA_DIR is not running"
	exit 0
fi
[ "$mode" = status ] && exit 0

# Serialise with ensure-postgres.sh.
if command -v flock >/dev/null 2>&1 && [ -w "$(dirname "$DATA_DIR")" ]; then
	exec 9>"$DATA_DIR.lock"
	flock -w 120 9 || log "timed out waiting for $DATA_DIR.lock; stopping anyway"
fi

log "stopping private cluster in $DATA_DIR"
run_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" -m fast -w -t 60 stop >&2
