#!/usr/bin/env bash
# Makes sure Prometheus and its promtool are installed: deploy's tests
# check prometheus.yml, the alerting rules and their unit tests with
# promtool, and the end-to-end stack test scrapes the stack with a real
# Prometheus and runs every dashboard query. Does nothing when both are on
# PATH, installs Debian's `prometheus` package (which ships both) with
# apt-get when they are missing (as root), and fails loudly when neither
# works. `make test` runs it before the tests; the tests also run it when
# they miss a binary, so `go test ./deploy/ ./e2e/` works on its own.
set -euo pipefail

say() { printf 'ensure-promtool: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
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
command -v promtool >/dev/null && command -v prometheus >/dev/null ||
	die "promtool or prometheus is still not on PATH after installing the package"
say "installed $(promtool --version 2>/dev/null | head -1)"
