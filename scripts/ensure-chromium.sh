#!/usr/bin/env bash
# ensure-chromium.sh: make sure Debian's chromium and playwright-core (npm)
# are installed for the console's browser tests, and print, on stdout and
# nothing else, the node_modules directory that holds playwright-core. Logs
# go to stderr.
#
# chromium is installed with apt-get when /usr/bin/chromium is missing and we
# are root, one install at a time (a lock under /tmp), as
# scripts/ensure-postgres.sh does for PostgreSQL. playwright-core is
# installed with `npm ci` from cmd/console/browsertest/package-lock.json
# into cmd/console/browsertest/node_modules (gitignored) when missing.
# Without root, apt-get or npm it fails and says what to install: the browser
# tests fail rather than skip.
set -euo pipefail

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/cmd/console/browsertest

lock=/tmp/quantumflow-ensure-chromium.lock
exec 9>"$lock"
flock 9

if [ ! -x /usr/bin/chromium ]; then
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 ||
		die "/usr/bin/chromium is missing; install it (Debian: sudo apt-get install chromium)"
	log "installing chromium with apt-get"
	apt-get update >&2 </dev/null || log "apt-get update failed; trying the install anyway"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core >&2 </dev/null ||
		die "apt-get install chromium failed"
	[ -x /usr/bin/chromium ] || die "/usr/bin/chromium still missing after the install"
fi

if [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
		die "node and npm are needed to run the browser tests (Debian: sudo apt-get install nodejs npm)"
	log "installing playwright-core with npm ci in $dir"
	(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts >&2 </dev/null) || die "npm ci failed in $dir"
	[ -f "$dir/node_modules/playwright-core/package.json" ] || die "playwright-core still missing after npm ci"
fi
flock -u 9
echo "$dir/node_modules"
