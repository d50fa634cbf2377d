#!/usr/bin/env bash
# ensure-prometheus.sh: make sure Prometheus and promtool are installed and
# print, on stdout and nothing else, the directory that holds both binaries.
# Logs go to stderr.
#
# Debian's prometheus package (2.42 on bookworm; it ships promtool) is
# installed with apt-get when either binary is missing and we are root, one
# install at a time (a lock under /tmp), as scripts/ensure-postgres.sh does
# for PostgreSQL. Without root, or without apt-get, it fails and says what to
# install: tests that need Prometheus fail rather than skip.
#
# Debian's package also starts a system Prometheus through systemd where
# systemd runs; tests never use it: they start their own on loopback.
set -euo pipefail

log() { printf 'ensure-prometheus: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

have() { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; }

if ! have; then
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 ||
		die "prometheus and promtool are not installed; install them (Debian/Ubuntu: sudo apt-get install prometheus)"
	lock=/tmp/quantumflow-ensure-prometheus.lock
	exec 9>"$lock"
	flock 9
	if ! have; then
		log "installing prometheus (with promtool) with apt-get"
		apt-get update >&2 </dev/null || log "apt-get update failed; trying the install anyway"
		# policy-rc.d keeps the package from starting a system Prometheus
		# where an init system would.
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.qf
		chmod +x /usr/sbin/policy-rc.d.qf
		[ -e /usr/sbin/policy-rc.d ] || ln -s /usr/sbin/policy-rc.d.qf /usr/sbin/policy-rc.d
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >&2 </dev/null ||
			die "apt-get install prometheus failed"
		[ "$(readlink /usr/sbin/policy-rc.d 2>/dev/null)" != /usr/sbin/policy-rc.d.qf ] || rm -f /usr/sbin/policy-rc.d
		rm -f /usr/sbin/policy-rc.d.qf
	fi
	flock -u 9
	have || die "prometheus or promtool still missing after the install"
fi
dirname "$(command -v promtool)"
