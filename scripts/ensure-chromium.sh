#!/usr/bin/env bash
# Makes sure a headless Chromium is installed for the dashboard's browser
# test (e2e/browser_test.go, driven by chromedp): does nothing when chromium
# is on PATH, installs Debian's `chromium` package with apt-get when it is
# missing (as root), and fails loudly when neither works. `make test` runs
# it before the tests; the browser test also runs it when chromium is
# missing, so `go test ./e2e/` works on its own.
set -euo pipefail

say() { printf 'ensure-chromium: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

for b in chromium chromium-browser; do
	if command -v "$b" >/dev/null; then
		exit 0
	fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	die "chromium is not installed and cannot be installed here (need root and apt-get); install Debian's chromium package or set SHORTIFY_CHROMIUM"
fi
say "installing Debian's chromium package"
DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
	die "apt-get update failed"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
	die "apt-get install chromium failed"
command -v chromium >/dev/null || die "chromium is still not on PATH after installing it"
say "installed $(chromium --version 2>/dev/null | head -1)" # stderr: the Debian wrapper's own warnings
