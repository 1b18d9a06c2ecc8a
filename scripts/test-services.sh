#!/usr/bin/env bash
# Makes sure the services the tests run against are up: PostgreSQL on
# 127.0.0.1:5432 and Redis on 127.0.0.1:6379. Starts them when they are
# installed but stopped, installs them from Debian's packages when they are
# missing (as root), and fails loudly when neither works. Tests never skip
# for a missing service: this script is why.
set -euo pipefail

PGHOST_ADDR=${SHORTIFY_TEST_PG_HOST:-127.0.0.1}
PGPORT_NUM=${SHORTIFY_TEST_PG_PORT:-5432}
REDIS_PORT=${SHORTIFY_TEST_REDIS_PORT:-6379}

say() { printf 'test-services: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

apt_install() {
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		die "$1 is not installed and cannot be installed here (need root and apt-get); install $1 or set SHORTIFY_TEST_POSTGRES / SHORTIFY_TEST_REDIS"
	fi
	say "installing $*"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() { pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

wait_for() { # name check
	for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
	die "$1 did not come up within 30s"
}

ensure_postgres() {
	if [ -n "${SHORTIFY_TEST_POSTGRES:-}" ]; then return; fi # the caller provides one
	command -v pg_isready >/dev/null || apt_install postgresql
	pg_up && return
	command -v pg_ctlcluster >/dev/null || apt_install postgresql
	if [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
		apt_install postgresql
	fi
	local ver
	ver=$(ls /etc/postgresql | sort -V | tail -1)
	if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then
		pg_createcluster "$ver" main >/dev/null
	fi
	local hba="/etc/postgresql/$ver/main/pg_hba.conf"
	if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
		# Local test server: trust on loopback, as the tests expect.
		sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
	fi
	say "starting PostgreSQL $ver"
	pg_ctlcluster --skip-systemctl-redirect "$ver" main start || die "could not start PostgreSQL $ver (see /var/log/postgresql/)"
	wait_for PostgreSQL pg_up
}

# The replica tests (testenv.StartReplica) take a pg_basebackup of this
# server and stream from it: it needs wal_level replica (the default),
# WAL senders, and a pg_hba.conf line for replication connections from
# loopback. The line is added once; a reload applies it.
ensure_replication() {
	if [ -n "${SHORTIFY_TEST_POSTGRES:-}" ]; then return; fi # the caller's server, the caller's settings
	local q="psql -X -q -At -h $PGHOST_ADDR -p $PGPORT_NUM -U postgres -d postgres -c"
	local level senders hba
	level=$($q 'SHOW wal_level') || die "cannot query PostgreSQL settings"
	senders=$($q 'SHOW max_wal_senders')
	case "$level" in replica | logical) ;; *) die "PostgreSQL has wal_level=$level; the replica tests need replica (set it and restart)" ;; esac
	[ "$senders" -gt 0 ] || die "PostgreSQL has max_wal_senders=0; the replica tests need at least 1 (set it and restart)"
	hba=$($q 'SHOW hba_file')
	if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba" 2>/dev/null; then
		[ -w "$hba" ] || die "cannot add a replication line to $hba (need write access)"
		say "allowing replication connections from 127.0.0.1 in $hba"
		sed -i '1i host replication all 127.0.0.1/32 trust' "$hba"
		$q 'SELECT pg_reload_conf()' >/dev/null
	fi
}

ensure_redis() {
	if [ -n "${SHORTIFY_TEST_REDIS:-}" ]; then return; fi
	command -v redis-server >/dev/null || apt_install redis-server
	redis_up && return
	say "starting Redis on 127.0.0.1:$REDIS_PORT"
	mkdir -p /tmp/shortify-redis
	redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
		--dir /tmp/shortify-redis --logfile /tmp/shortify-redis/redis.log || die "could not start Redis"
	wait_for Redis redis_up
}

ensure_postgres
ensure_replication
ensure_redis
say "PostgreSQL and Redis are up"
