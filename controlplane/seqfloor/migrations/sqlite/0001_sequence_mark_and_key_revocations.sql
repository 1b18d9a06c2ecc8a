-- What a restored control plane must move past (see the PostgreSQL
-- migration of the same number): the sequence's high-water mark, one
-- row written before a node hands out a code of a new block, and the API
-- keys revoked.
CREATE TABLE sequence_mark (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	high       INTEGER NOT NULL CHECK (high >= 0),
	updated_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE key_revocations (
	key_id     TEXT    PRIMARY KEY,
	revoked_ms INTEGER NOT NULL CHECK (revoked_ms > 0)
);
