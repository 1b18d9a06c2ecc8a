#!/usr/bin/env bash
# Builds Shortify the way xcaddy.Dockerfile does — xcaddy at a pinned
# version, Caddy at a pinned version, this checkout as the plugin — with the
# local Go toolchain, so the image's build step is checked without a Docker
# engine; then checks that the binary lists every Shortify module.
#
#   scripts/xcaddy-check.sh [XCADDY_VERSION] [CADDY_VERSION]
set -euo pipefail

XCADDY_VERSION=${1:-v0.4.5}
CADDY_VERSION=${2:-v2.11.9}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf 'xcaddy-check: %s\n' "$*" >&2; }

say "installing xcaddy $XCADDY_VERSION"
GOBIN="$work/bin" go install "github.com/caddyserver/xcaddy/cmd/xcaddy@$XCADDY_VERSION"

say "building Caddy $CADDY_VERSION with github.com/shortify/shortify=$root"
(cd "$work" && CGO_ENABLED=0 "$work/bin/xcaddy" build "$CADDY_VERSION" \
	--output "$work/shortify" \
	--with "github.com/shortify/shortify@v0.0.0=$root")

modules=$("$work/shortify" list-modules --skip-standard)
missing=0
for m in http.handlers.shortify_edge http.handlers.shortify http.handlers.shortify_api http.handlers.shortify_stats shortify shortify_kafka shortify_ingest; do
	if grep -qx "$m" <<<"$modules"; then
		say "ok: $m"
	else
		say "MISSING: $m"
		missing=1
	fi
done
if [ "$missing" != 0 ]; then
	say "the xcaddy build lacks Shortify modules; its module list:"
	printf '%s\n' "$modules" >&2
	exit 1
fi
"$work/shortify" version
say "the xcaddy build has every Shortify module"
