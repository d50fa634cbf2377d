#!/usr/bin/env bash
# ensure-postgres.sh: print (on stdout, and nothing else) a libpq URL of a
# PostgreSQL server that the tests and the quick start can use. Logs go to
# stderr.
#
# Order of preference:
#   1. $DATABASE_URL, if set (verified; exits non-zero if it does not answer).
#   2. A server on ${QF_PG_HOST:-127.0.0.1}:${QF_PG_PORT:-5432} that accepts
#      postgres://postgres@HOST:PORT/postgres with trust auth.
#   3. A private cluster in ${QF_PG_DATA:-<repo>/.data/postgres}, created with
#      initdb on first use (installing Debian's postgresql package as root if
#      no server binaries exist) and started with pg_ctl. Idempotent: when it
#      is already running its URL is printed. scripts/stop-postgres.sh stops it.
#
# Environment:
#   DATABASE_URL   use this server (branch 1)
#   QF_PG_HOST     host probed in branch 2 (default 127.0.0.1)
#   QF_PG_PORT     port probed in branch 2 and used by the private cluster
#                  (default 5432; when unset and 5432 is taken by a server we
#                  cannot use, the private cluster takes the next free port)
#   QF_PG_DATA     data folder of the private cluster
#   QF_PG_BINDIR   folder holding initdb/pg_ctl/postgres (default: newest
#                  /usr/lib/postgresql/*/bin, else the one on PATH)
#   QF_PG_MAX_CONNECTIONS
#                  max_connections of the private cluster when this script
#                  starts it (default: its postgresql.conf, 200); tests use a
#                  small one to see a fleet refused
#
# Other modes (used by scripts/stop-postgres.sh):
#   --data-dir     print the private cluster's data folder and exit
set -euo pipefail

readonly MARKER='# quantumflow-private-cluster (managed by scripts/ensure-postgres.sh)'
readonly START_TIMEOUT=30
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly REPO_ROOT

log() { printf 'ensure-postgres: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# mask_secrets hides passwords in libpq URLs and keyword/value strings
# (postgres://user:SECRET@host, password=SECRET, ?password=SECRET).
mask_secrets() {
	sed -E \
		-e 's#(://[^:/@?]*):[^@]*@#\1:****@#g' \
		-e "s#(password[[:space:]]*=[[:space:]]*)('[^']*'|[^&[:space:]]*)#\\1****#g"
}
masked() { printf '%s' "$1" | mask_secrets; }

. "$(dirname "${BASH_SOURCE[0]}")/lib/as-postgres.sh"
run_pg() { as_postgres "$@"; }

# url_answers URL: true if a session can be opened and run `select 1`.
# Falls back to pg_isready (which does not check authentication) when psql
# is missing. Errors (masked) are left in $ANSWER_ERR.
ANSWER_ERR=''
url_answers() {
	local url=$1 out rc
	if command -v psql >/dev/null 2>&1; then
		rc=0
		out=$(PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5} psql -X -w -q -A -t -d "$url" -c 'select 1' </dev/null 2>&1) || rc=$?
		if [ "$rc" -eq 0 ] && [ "$(printf '%s' "$out" | tr -d '[:space:]')" = 1 ]; then
			return 0
		fi
	elif command -v pg_isready >/dev/null 2>&1; then
		rc=0
		out=$(pg_isready -t "${PGCONNECT_TIMEOUT:-5}" -d "$url" </dev/null 2>&1) || rc=$?
		[ "$rc" -eq 0 ] && return 0
	else
		out='neither psql nor pg_isready is installed'
	fi
	ANSWER_ERR=$(printf '%s' "$out" | mask_secrets)
	return 1
}

have_client() { command -v psql >/dev/null 2>&1 || command -v pg_isready >/dev/null 2>&1; }

apt_install() {
	is_root || return 1
	command -v apt-get >/dev/null 2>&1 || return 1
	log "installing $* with apt-get (this takes a minute)"
	apt-get update >&2 </dev/null || log "apt-get update failed; trying the install anyway"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2 </dev/null
}

url_host() {
	case $1 in
	*:*) printf '[%s]' "$1" ;; # IPv6 literal
	*) printf '%s' "$1" ;;
	esac
}

trust_url() { printf 'postgres://postgres@%s:%s/postgres?sslmode=disable' "$(url_host "$1")" "$2"; }

# default_data_dir prints the private cluster's data folder without creating
# anything. When we are root the server runs as the postgres user, which must
# be able to reach the folder; if it cannot reach the repository (e.g. a clone
# under /root), fall back to a per-checkout folder in /var/tmp.
default_data_dir() {
	if [ -n "${QF_PG_DATA:-}" ]; then
		case $QF_PG_DATA in
		/*) printf '%s' "${QF_PG_DATA%/}" ;;
		*) printf '%s/%s' "$(pwd -P)" "${QF_PG_DATA%/}" ;;
		esac
		return
	fi
	if is_root && id postgres >/dev/null 2>&1 && ! run_pg test -x "$REPO_ROOT" 2>/dev/null; then
		printf '/var/tmp/quantumflow-postgres-%s' "$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)"
		return
	fi
	printf '%s/.data/postgres' "$REPO_ROOT"
}

# find_bindir prints a folder holding initdb, pg_ctl and postgres. With a
# cluster version (from PG_VERSION) it prefers the matching binaries.
find_bindir() {
	local want=${1:-} d
	if [ -n "${QF_PG_BINDIR:-}" ]; then
		[ -x "$QF_PG_BINDIR/postgres" ] || die "QF_PG_BINDIR=$QF_PG_BINDIR has no postgres binary"
		printf '%s' "$QF_PG_BINDIR"
		return 0
	fi
	if [ -n "$want" ] && [ -x "/usr/lib/postgresql/$want/bin/postgres" ]; then
		printf '%s' "/usr/lib/postgresql/$want/bin"
		return 0
	fi
	d=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' -type f 2>/dev/null |
		sort -V | tail -n 1)
	if [ -n "$d" ]; then
		dirname "$d"
		return 0
	fi
	d=$(command -v pg_ctl 2>/dev/null || true)
	if [ -n "$d" ] && [ -x "$(dirname "$d")/postgres" ] && [ -x "$(dirname "$d")/initdb" ]; then
		dirname "$d"
		return 0
	fi
	return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_status() { run_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; }

running_port() { sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null | tr -d '[:space:]'; }

wait_ready() {
	local port=$1 deadline=$((SECONDS + START_TIMEOUT))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if url_answers "$(trust_url 127.0.0.1 "$port")"; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

show_log_tail() {
	if [ -f "$LOG_FILE" ]; then
		log "last lines of $LOG_FILE:"
		tail -n 30 "$LOG_FILE" >&2 || true
	fi
}

# ---------------------------------------------------------------------------

if [ "${1:-}" = "--data-dir" ]; then
	default_data_dir
	echo
	exit 0
elif [ $# -gt 0 ]; then
	die "unknown argument: $1 (usage: $0 [--data-dir])"
fi

# 1. An explicit DATABASE_URL.
if [ -n "${DATABASE_URL:-}" ]; then
	if ! have_client && ! apt_install postgresql-client; then
		log "WARNING: cannot check DATABASE_URL ($(masked "$DATABASE_URL")): install psql (Debian: postgresql-client); using it unchecked"
		printf '%s\n' "$DATABASE_URL"
		exit 0
	fi
	if url_answers "$DATABASE_URL"; then
		log "using DATABASE_URL ($(masked "$DATABASE_URL"))"
		printf '%s\n' "$DATABASE_URL"
		exit 0
	fi
	die "DATABASE_URL ($(masked "$DATABASE_URL")) does not answer: ${ANSWER_ERR:-no details}"
fi

# 2. A server already listening that trusts the postgres user.
PROBE_HOST=${QF_PG_HOST:-127.0.0.1}
PROBE_PORT=${QF_PG_PORT:-5432}
PROBE_URL=$(trust_url "$PROBE_HOST" "$PROBE_PORT")
if have_client && url_answers "$PROBE_URL"; then
	log "using the server on $PROBE_HOST:$PROBE_PORT"
	printf '%s\n' "$PROBE_URL"
	exit 0
fi
log "no usable server on $PROBE_HOST:$PROBE_PORT (${ANSWER_ERR:-no client to probe it}); using a private cluster"

# 3. A private cluster.
DATA_DIR=$(default_data_dir)
readonly DATA_DIR
readonly LOG_FILE="$DATA_DIR/postgres.log"

if ! BINDIR=$(find_bindir "$(cat "$DATA_DIR/PG_VERSION" 2>/dev/null || true)"); then
	if ! is_root; then
		die "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and PATH). Install them (Debian/Ubuntu: sudo apt-get install postgresql), or set DATABASE_URL to a server you have"
	fi
	apt_install postgresql || die "apt-get install postgresql failed; install PostgreSQL server binaries or set DATABASE_URL"
	BINDIR=$(find_bindir "") || die "postgresql was installed but no server binaries were found under /usr/lib/postgresql/*/bin"
fi
readonly BINDIR
# The readiness checks need psql or pg_isready; the server folder has both.
have_client || PATH="$PATH:$BINDIR"
log "server binaries: $BINDIR ($("$BINDIR/postgres" --version 2>/dev/null || echo unknown version))"

if is_root && ! id postgres >/dev/null 2>&1; then
	log "creating the postgres OS user"
	useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres >&2 ||
		die "could not create the postgres OS user (initdb cannot run as root)"
fi

DATA_PARENT=$(dirname "$DATA_DIR")
mkdir -p "$DATA_PARENT"
if [ "$DATA_PARENT" = "$REPO_ROOT/.data" ]; then
	chmod 755 "$DATA_PARENT"
	# Belt and braces next to the .data/ line in .gitignore.
	[ -f "$DATA_PARENT/.gitignore" ] || printf '*\n' >"$DATA_PARENT/.gitignore"
fi

# Serialise concurrent callers (two test runs starting at once).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$DATA_DIR.lock"
	flock -w 120 9 || die "timed out waiting for the lock $DATA_DIR.lock"
fi

# Create the cluster on first use.
if [ ! -s "$DATA_DIR/PG_VERSION" ]; then
	if [ -e "$DATA_DIR" ] && [ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]; then
		die "$DATA_DIR exists, is not empty and holds no cluster; remove it or set QF_PG_DATA"
	fi
	rmdir "$DATA_DIR" 2>/dev/null || true
	TMP_DIR="$DATA_DIR.init.$$"
	rm -rf "$TMP_DIR"
	mkdir -m 700 "$TMP_DIR"
	trap 'rm -rf "$TMP_DIR"' EXIT
	if is_root; then
		chown postgres:postgres "$TMP_DIR"
		run_pg test -w "$TMP_DIR" ||
			die "the postgres OS user cannot reach $DATA_PARENT; set QF_PG_DATA to a folder it can reach"
	fi
	log "initdb $DATA_DIR"
	# initdb's chatter names the temporary folder: show it only on failure.
	if ! INITDB_OUT=$(run_pg "$BINDIR/initdb" -D "$TMP_DIR" -U postgres --auth=trust --no-locale --encoding=UTF8 2>&1); then
		printf '%s\n' "$INITDB_OUT" >&2
		die "initdb failed"
	fi
	mv "$TMP_DIR" "$DATA_DIR"
	trap - EXIT

	# The server creates its unix socket in the data folder, unless the path
	# would be too long for a socket address (108 bytes): then TCP only.
	SOCKET_DIR=$DATA_DIR
	if [ $((${#DATA_DIR} + 20)) -gt 107 ]; then
		SOCKET_DIR=''
	fi
	# Appending/overwriting as root keeps the files owned by postgres.
	cat >>"$DATA_DIR/postgresql.conf" <<EOF

$MARKER
listen_addresses = '127.0.0.1'
# port: chosen at each start and passed as pg_ctl -o "-p PORT"
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
shared_buffers = 256MB
fsync = on
EOF
	cat >"$DATA_DIR/pg_hba.conf" <<EOF
$MARKER
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
local   replication all               trust
host    replication all 127.0.0.1/32  trust
EOF
fi

if ! grep -qxF "$MARKER" "$DATA_DIR/postgresql.conf" 2>/dev/null; then
	die "$DATA_DIR holds a cluster that ensure-postgres.sh did not create; refusing to manage it (set QF_PG_DATA elsewhere)"
fi

# Already running: print its URL.
if pg_status; then
	PORT=$(running_port)
	[ -n "$PORT" ] || die "cluster in $DATA_DIR is running but postmaster.pid has no port"
	if wait_ready "$PORT"; then
		log "private cluster already running on 127.0.0.1:$PORT ($DATA_DIR)"
		trust_url 127.0.0.1 "$PORT"
		echo
		exit 0
	fi
	show_log_tail
	die "private cluster in $DATA_DIR is running but does not answer on 127.0.0.1:$PORT: $ANSWER_ERR"
fi

# Choose the port: QF_PG_PORT if set; otherwise 5432, or the next free one
# when 5432 is taken by a server that we could not use.
if [ -n "${QF_PG_PORT:-}" ]; then
	PORT=$QF_PG_PORT
	if port_in_use "$PORT"; then
		die "port $PORT on 127.0.0.1 is taken by something that does not accept postgres://postgres@127.0.0.1:$PORT with trust auth; choose another QF_PG_PORT or set DATABASE_URL"
	fi
else
	PORT=5432
	while port_in_use "$PORT"; do
		PORT=$((PORT + 1))
		[ "$PORT" -le 5532 ] || die "no free port in 5432-5532 on 127.0.0.1; set QF_PG_PORT or DATABASE_URL"
	done
fi

log "starting private cluster on 127.0.0.1:$PORT ($DATA_DIR, log $LOG_FILE)"
# 9>&-: the server must not inherit the lock's descriptor (it would hold the
# lock for as long as it runs).
SERVER_OPTS="-p $PORT"
if [ -n "${QF_PG_MAX_CONNECTIONS:-}" ]; then
	case $QF_PG_MAX_CONNECTIONS in
	*[!0-9]* | '') die "QF_PG_MAX_CONNECTIONS=$QF_PG_MAX_CONNECTIONS: want a number" ;;
	esac
	SERVER_OPTS="$SERVER_OPTS -c max_connections=$QF_PG_MAX_CONNECTIONS"
fi
if ! run_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -o "$SERVER_OPTS" -w -t "$START_TIMEOUT" start >&2 9>&-; then
	show_log_tail
	die "pg_ctl start failed"
fi
if ! wait_ready "$PORT"; then
	show_log_tail
	die "private cluster did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s: $ANSWER_ERR"
fi
log "private cluster ready on 127.0.0.1:$PORT"
trust_url 127.0.0.1 "$PORT"
echo
