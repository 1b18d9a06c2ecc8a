-- Until this migration the stats service created stats_offsets itself and
-- recorded it in stats_ingest_schema_migrations: IF NOT EXISTS adopts the
-- table of a database made then, rows and all, so that this package owns
-- the whole stats schema in one migrations table.
-- stats_offsets: see migrations/postgres/0003_offsets.sql. updated_at is
-- Unix microseconds.
CREATE TABLE IF NOT EXISTS stats_offsets (
	consumer_group TEXT    NOT NULL,
	topic          TEXT    NOT NULL,
	partition      INTEGER NOT NULL CHECK (partition >= 0),
	next_offset    INTEGER NOT NULL CHECK (next_offset >= 0),
	updated_at     INTEGER NOT NULL,
	PRIMARY KEY (consumer_group, topic, partition)
) STRICT;
