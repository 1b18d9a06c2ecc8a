#!/usr/bin/env bash
# Makes sure wrk (the HTTP load generator the edge benchmark drives) is
# installed: does nothing when it is on PATH, installs Debian's `wrk`
# package with apt-get when it is missing (as root), and fails loudly when
# neither works. `make bench` runs it before bench/edge.
set -euo pipefail

say() { printf 'ensure-wrk: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if command -v wrk >/dev/null; then
	exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	die "wrk is not installed and cannot be installed here (need root and apt-get); install Debian's wrk package"
fi
say "installing Debian's wrk package"
DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
	die "apt-get update failed"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
	die "apt-get install wrk failed"
command -v wrk >/dev/null || die "wrk is still not on PATH after installing it"
say "installed $(wrk --version 2>&1 | head -1)"
