#!/usr/bin/env bash
# Usage: scripts/ensure-debian-package.sh PACKAGE COMMAND...
#
# Makes sure the commands that a test or benchmark runs are installed:
# does nothing when every COMMAND is on PATH, installs Debian's PACKAGE
# with apt-get (as root) when one is missing, and fails loudly when
# neither works. `make test` and `make bench` run it for what they need
# (chromium for the dashboard's browser test; prometheus, which ships
# promtool too, for the alerting rules' tests and the stack test; wrk for
# the edge benchmark), and so do those tests when they miss a command,
# so that `go test ./e2e/` works on its own.
set -euo pipefail

say() { printf 'ensure-debian-package: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ $# -ge 2 ] || die "usage: $0 PACKAGE COMMAND..."
pkg=$1
shift

missing() {
	for c in "$@"; do
		command -v "$c" >/dev/null || return 0
	done
	return 1
}

missing "$@" || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	die "$* not installed and cannot be installed here (need root and apt-get); install Debian's $pkg package"
fi
say "installing Debian's $pkg package (for $*)"
DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
	die "apt-get update failed"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ||
	die "apt-get install $pkg failed"
! missing "$@" || die "$* still not all on PATH after installing $pkg"
say "installed $pkg $(dpkg-query -W -f '${Version}' "$pkg")"
