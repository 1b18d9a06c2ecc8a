#!/bin/bash
# Runs once, when the primary's data directory is created (the official
# image runs /docker-entrypoint-initdb.d/*.sh as the postgres user): a role
# for the streaming replicas and the pg_hba.conf line that lets it in.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v user="$REPLICATION_USER" -v password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE :"user" WITH REPLICATION LOGIN PASSWORD :'password';
SQL

echo "host replication $REPLICATION_USER all scram-sha-256" >> "$PGDATA/pg_hba.conf"
