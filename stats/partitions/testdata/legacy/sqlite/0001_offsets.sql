-- stats_offsets: see migrations/postgres/0001_offsets.sql. updated_at is
-- Unix microseconds.
CREATE TABLE stats_offsets (
	consumer_group TEXT    NOT NULL,
	topic          TEXT    NOT NULL,
	partition      INTEGER NOT NULL CHECK (partition >= 0),
	next_offset    INTEGER NOT NULL CHECK (next_offset >= 0),
	updated_at     INTEGER NOT NULL,
	PRIMARY KEY (consumer_group, topic, partition)
) STRICT;
