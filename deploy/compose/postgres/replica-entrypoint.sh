#!/bin/bash
# A streaming replica of $PRIMARY_HOST. On its first start (an empty data
# directory) it clones the primary with pg_basebackup, which also writes
# standby.signal and primary_conninfo (-R) and creates the replication slot
# $SLOT_NAME on the primary (-C), so that the primary keeps the WAL this
# replica has not received yet. Later starts just run the standby.
# Runs as the postgres user (compose sets user: postgres).
set -euo pipefail

: "${PGDATA:?}" "${PRIMARY_HOST:?}" "${SLOT_NAME:?}" "${REPLICATION_USER:?}" "${REPLICATION_PASSWORD:?}"
export PGPASSWORD="$REPLICATION_PASSWORD"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	until pg_isready -q -h "$PRIMARY_HOST" -U "$REPLICATION_USER"; do
		echo "waiting for the primary $PRIMARY_HOST"
		sleep 1
	done
	# A replica rebuilt from scratch: its old slot holds WAL for nobody.
	pg_receivewal -h "$PRIMARY_HOST" -U "$REPLICATION_USER" --drop-slot --slot "$SLOT_NAME" 2>/dev/null || true
	pg_basebackup -h "$PRIMARY_HOST" -U "$REPLICATION_USER" -D "$PGDATA" \
		--write-recovery-conf --wal-method=stream --create-slot --slot="$SLOT_NAME" \
		--checkpoint=fast --progress
	chmod 0700 "$PGDATA"
fi

exec postgres -c hot_standby=on -c hot_standby_feedback=on "$@"
