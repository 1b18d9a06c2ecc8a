#!/usr/bin/env bash
# Makes sure promtool (Prometheus's own checker, which deploy's tests use
# on prometheus.yml and the alerting rules and their unit tests) is
# installed: does nothing when it is on PATH, installs Debian's
# `prometheus` package (which ships promtool) with apt-get when it is
# missing (as root), and fails loudly when neither works. `make test` runs
# it before the tests; the deploy test also runs it when promtool is
# missing, so `go test ./deploy/` works on its own.
set -euo pipefail

say() { printf 'ensure-promtool: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if command -v promtool >/dev/null; then
	exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	die "promtool is not installed and cannot be installed here (need root and apt-get); install Debian's prometheus package"
fi
say "installing Debian's prometheus package (for promtool)"
DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
	die "apt-get update failed"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null ||
	die "apt-get install prometheus failed"
command -v promtool >/dev/null || die "promtool is still not on PATH after installing it"
say "installed $(promtool --version 2>/dev/null | head -1)"
