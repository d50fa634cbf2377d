# shellcheck shell=bash
# as-postgres.sh, sourced by the scripts that run PostgreSQL's or
# PgBouncer's binaries: both refuse to run as root.

is_root() { [ "$(id -u)" -eq 0 ]; }

# as_postgres runs a command as the postgres OS user when we are root,
# ourselves otherwise; from /, so an unreadable cwd (e.g. /root) does not
# bother the program.
as_postgres() {
	if is_root; then
		if command -v runuser >/dev/null 2>&1; then
			(cd / && runuser -u postgres -- "$@")
		else
			# su passes the arguments after the command string to the shell.
			# shellcheck disable=SC2016 # expanded by that shell, not here
			(cd / && su -s /bin/sh postgres -c 'exec "$0" "$@"' -- "$@")
		fi
	else
		(cd / && "$@")
	fi
}
