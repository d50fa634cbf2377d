#!/usr/bin/env bash
# ensure-pgbouncer.sh: run a PgBouncer in front of the test PostgreSQL and
# print (on stdout, and nothing else) its libpq URL. Logs go to stderr.
#
#   scripts/ensure-pgbouncer.sh DIR          start (or find running) the
#                                            PgBouncer configured in DIR
#   scripts/ensure-pgbouncer.sh --stop DIR   stop it (a no-op when it is not
#                                            running); never touches any other
#                                            pgbouncer
#   scripts/ensure-pgbouncer.sh --status DIR exit 0 if it runs, 3 if not
#
# DIR (created if missing) receives pgbouncer.ini, userlist.txt, the log and
# the pid file. The config is written on every start:
#
#   [databases] * = host=$QF_PG_HOST port=$QF_PG_PORT   (every database of
#                   the server, by the name the client asks for)
#   listen_addr = 127.0.0.1, listen_port = $QF_BOUNCER_PORT, no unix socket
#   auth_type = trust, the users of $QF_BOUNCER_USERS in userlist.txt (the
#                   server must trust them too, as the test server does)
#   pool_mode = $QF_BOUNCER_POOL_MODE, default_pool_size and
#                   max_db_connections = $QF_BOUNCER_POOL_SIZE
#
# Debian's pgbouncer package is installed with apt-get when pgbouncer is
# missing and we are root. PgBouncer refuses to run as root: as root it runs
# as the postgres OS user, which must be able to reach DIR (the script
# chowns DIR to it and fails if it cannot get there).
#
# Environment:
#   QF_PG_HOST            server host (default 127.0.0.1)
#   QF_PG_PORT            server port (default 5432)
#   QF_BOUNCER_PORT       listen port (default: the first free one from 6432)
#   QF_BOUNCER_POOL_MODE  transaction (default), session or statement
#   QF_BOUNCER_POOL_SIZE  server connections per database (default 20)
#   QF_BOUNCER_USERS      space-separated users to let in (default postgres)
#
# The printed URL is postgres://USER@127.0.0.1:PORT/postgres?sslmode=disable
# for the first user. QuantumFlow through transaction pooling needs
# default_query_exec_mode=exec added to it (docs/OPERATIONS.md, PgBouncer).
set -euo pipefail

readonly MARKER='; quantumflow-pgbouncer (managed by scripts/ensure-pgbouncer.sh)'
readonly START_TIMEOUT=20

log() { printf 'ensure-pgbouncer: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
usage() { die "usage: $0 [--stop|--status] DIR"; }

. "$(dirname "${BASH_SOURCE[0]}")/lib/as-postgres.sh"
run_as() { as_postgres "$@"; }

mode=start
case ${1:-} in
--stop) mode=stop && shift ;;
--status) mode=status && shift ;;
-*) usage ;;
esac
[ $# -eq 1 ] || usage
case $1 in
/*) DIR=${1%/} ;;
*) DIR="$(pwd -P)/${1%/}" ;;
esac
readonly DIR
readonly CONF="$DIR/pgbouncer.ini" PID_FILE="$DIR/pgbouncer.pid" LOG_FILE="$DIR/pgbouncer.log"

# running_pid prints the pid of the pgbouncer of DIR when it runs.
running_pid() {
	local pid
	pid=$(cat "$PID_FILE" 2>/dev/null || true)
	[ -n "$pid" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Not some other process that reuses the pid.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$CONF" || return 1
	printf '%s' "$pid"
}

if [ "$mode" = status ]; then
	running_pid >/dev/null && exit 0
	exit 3
fi

if [ "$mode" = stop ]; then
	if ! pid=$(running_pid); then
		log "no pgbouncer running for $DIR; nothing to stop"
		exit 0
	fi
	kill -INT "$pid" # SIGINT: safe shutdown, without waiting for clients
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || {
			log "stopped pgbouncer $pid ($DIR)"
			exit 0
		}
		sleep 0.1
	done
	log "pgbouncer $pid ignored SIGINT for 10s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	exit 0
fi

PG_HOST=${QF_PG_HOST:-127.0.0.1}
PG_PORT=${QF_PG_PORT:-5432}
POOL_MODE=${QF_BOUNCER_POOL_MODE:-transaction}
POOL_SIZE=${QF_BOUNCER_POOL_SIZE:-20}
USERS=${QF_BOUNCER_USERS:-postgres}
FIRST_USER=${USERS%% *}
case $POOL_MODE in transaction | session | statement) ;; *) die "QF_BOUNCER_POOL_MODE=$POOL_MODE: want transaction, session or statement" ;; esac
case $POOL_SIZE in '' | *[!0-9]*) die "QF_BOUNCER_POOL_SIZE=$POOL_SIZE: want a number" ;; esac

bouncer_url() { printf 'postgres://%s@127.0.0.1:%s/postgres?sslmode=disable' "$FIRST_USER" "$1"; }

# answers PORT: true when a session through the pgbouncer runs `select 1`
# (so the server behind it answers too). Errors are left in $ANSWER_ERR.
ANSWER_ERR=''
answers() {
	local out rc=0
	out=$(PGCONNECT_TIMEOUT=3 psql -X -w -q -A -t -d "$(bouncer_url "$1")" -c 'select 1' </dev/null 2>&1) || rc=$?
	if [ "$rc" -eq 0 ] && [ "$(printf '%s' "$out" | tr -d '[:space:]')" = 1 ]; then
		return 0
	fi
	ANSWER_ERR=$out
	return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
	is_root && command -v apt-get >/dev/null 2>&1 ||
		die "pgbouncer is not installed; install it (Debian/Ubuntu: sudo apt-get install pgbouncer)"
	log "installing pgbouncer with apt-get"
	# Serialise concurrent installs (several tests starting at once).
	exec 8>/var/tmp/quantumflow-apt-pgbouncer.lock
	flock -w 600 8 || die "timed out waiting for /var/tmp/quantumflow-apt-pgbouncer.lock"
	if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
		apt-get update >&2 </dev/null || log "apt-get update failed; trying the install anyway"
		DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer >&2 </dev/null || die "apt-get install pgbouncer failed"
	fi
	exec 8>&-
fi
BOUNCER=$(command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer)
command -v psql >/dev/null 2>&1 || die "psql is needed to check pgbouncer (Debian: postgresql-client)"

mkdir -p "$DIR"
if is_root; then
	id postgres >/dev/null 2>&1 || die "no postgres OS user to run pgbouncer as (pgbouncer refuses root)"
	chown postgres "$DIR"
	run_as test -w "$DIR" || die "the postgres OS user cannot reach $DIR; choose a folder it can reach (e.g. under /var/tmp)"
fi

if pid=$(running_pid); then
	port=$(sed -n 's/^listen_port = //p' "$CONF")
	if answers "$port"; then
		log "pgbouncer $pid already running on 127.0.0.1:$port ($DIR)"
		bouncer_url "$port"
		echo
		exit 0
	fi
	die "pgbouncer $pid of $DIR runs but does not answer on 127.0.0.1:$port: $ANSWER_ERR"
fi

write_config() {
	local port=$1 u
	: >"$DIR/userlist.txt"
	for u in $USERS; do
		printf '"%s" ""\n' "$u" >>"$DIR/userlist.txt"
	done
	cat >"$CONF" <<EOF
$MARKER
[databases]
* = host=$PG_HOST port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
admin_users = $FIRST_USER
pool_mode = $POOL_MODE
default_pool_size = $POOL_SIZE
max_db_connections = $POOL_SIZE
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 1000
server_login_retry = 1
log_connections = 0
log_disconnections = 0
logfile = $LOG_FILE
pidfile = $PID_FILE
EOF
	if is_root; then
		chown postgres "$CONF" "$DIR/userlist.txt"
		touch "$LOG_FILE" && chown postgres "$LOG_FILE"
	fi
}

# Start: on the given port, or on the first free port from 6432 (retrying
# the next one when another process takes it first).
if [ -n "${QF_BOUNCER_PORT:-}" ]; then
	ports=$QF_BOUNCER_PORT
	port_in_use "$QF_BOUNCER_PORT" && die "port $QF_BOUNCER_PORT on 127.0.0.1 is taken"
else
	ports=$(seq 6432 6532)
fi
for port in $ports; do
	port_in_use "$port" && continue
	write_config "$port"
	rm -f "$PID_FILE"
	log "starting pgbouncer on 127.0.0.1:$port ($POOL_MODE pooling, $POOL_SIZE server connections, server $PG_HOST:$PG_PORT, log $LOG_FILE)"
	if ! run_as "$BOUNCER" -d -q "$CONF" >&2; then
		log "pgbouncer -d failed on port $port"
		continue
	fi
	deadline=$((SECONDS + START_TIMEOUT))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if answers "$port"; then
			log "pgbouncer $(running_pid || echo '?') ready on 127.0.0.1:$port"
			bouncer_url "$port"
			echo
			exit 0
		fi
		running_pid >/dev/null || break
		sleep 0.2
	done
	log "pgbouncer did not answer on 127.0.0.1:$port: $ANSWER_ERR"
	tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
	if pid=$(running_pid); then
		kill -INT "$pid" 2>/dev/null || true
		die "pgbouncer runs but does not answer"
	fi
done
die "could not start pgbouncer (see $LOG_FILE)"
