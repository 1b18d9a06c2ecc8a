#!/usr/bin/env bash
# Usage: scripts/sync-kubernetes-caddyfiles.sh
#
# Copies deploy/caddyfiles/*.Caddyfile into the shortify-caddyfiles
# ConfigMap of deploy/kubernetes/config.yaml, replacing each key's block
# scalar, so that the copies stay what TestKubernetesCaddyfiles
# (deploy/kubernetes_caddyfile_test.go) wants: the files, byte for byte.
# Run it from anywhere after editing a role Caddyfile.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
config=$root/deploy/kubernetes/config.yaml
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# A key line "  <role>.Caddyfile: |" starts a block; the block is every
# following line that is blank or indented by four spaces.
awk -v dir="$root/deploy/caddyfiles" '
	function emit(file,   line) {
		while ((getline line < file) > 0) {
			if (line == "") print ""; else print "    " line
		}
		close(file)
	}
	skipping && ($0 == "" || $0 ~ /^    /) { next }
	{ skipping = 0 }
	match($0, /^  [a-z]+\.Caddyfile: \|$/) {
		print
		key = $0
		sub(/^  /, "", key)
		sub(/: \|$/, "", key)
		file = dir "/" key
		if ((getline probe < file) < 0) { print "no " file > "/dev/stderr"; exit 1 }
		close(file)
		emit(file)
		skipping = 1
		next
	}
	{ print }
' "$config" >"$tmp"
cat "$tmp" >"$config"
