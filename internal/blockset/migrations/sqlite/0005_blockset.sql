-- The shared block set and the links flagged for review, as on PostgreSQL
-- (see migrations/postgres/0005_blockset.sql). Times are INTEGER Unix
-- microseconds in UTC, as in the link store.
CREATE TABLE blockset_entries (
	kind   TEXT NOT NULL CHECK (kind IN ('host', 'url')),
	value  TEXT NOT NULL CHECK (value <> ''),
	source TEXT NOT NULL,
	PRIMARY KEY (kind, value)
) STRICT, WITHOUT ROWID;

CREATE TABLE blockset_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	generation INTEGER NOT NULL,
	digest     TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE link_reviews (
	code       TEXT    NOT NULL PRIMARY KEY,
	reason     TEXT    NOT NULL,
	source     TEXT    NOT NULL,
	flagged_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX link_reviews_flagged_at ON link_reviews (flagged_at DESC, code DESC);
