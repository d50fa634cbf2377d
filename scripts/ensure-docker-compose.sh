#!/usr/bin/env bash
# ensure-docker-compose.sh: make sure docker-compose is installed and print,
# on stdout and nothing else, its path. Logs go to stderr.
#
# Debian's docker-compose package (1.29 on bookworm) is installed with
# apt-get, without the recommended Docker engine, when it is missing and we
# are root, one install at a time (a lock under /tmp), as
# scripts/ensure-prometheus.sh does for Prometheus. Without root, or without
# apt-get, it fails and says what to install: the test that needs it
# (deploy/compose_test.go: docker-compose config -q) fails rather than skips.
# `docker-compose config` needs no Docker engine.
set -euo pipefail

log() { printf 'ensure-docker-compose: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

have() { command -v docker-compose >/dev/null 2>&1; }

if ! have; then
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 ||
		die "docker-compose is not installed; install it (Debian/Ubuntu: sudo apt-get install docker-compose)"
	lock=/tmp/quantumflow-ensure-docker-compose.lock
	exec 9>"$lock"
	flock 9
	if ! have; then
		log "installing docker-compose with apt-get"
		apt-get update >&2 </dev/null || log "apt-get update failed; trying the install anyway"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose >&2 </dev/null ||
			die "apt-get install docker-compose failed"
	fi
	flock -u 9
	have || die "docker-compose still missing after the install"
fi
command -v docker-compose
