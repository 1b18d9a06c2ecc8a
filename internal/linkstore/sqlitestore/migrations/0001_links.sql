-- links: one row per short link, the same columns as on PostgreSQL.
--
-- Times are INTEGER Unix microseconds in UTC: exact, compact, and the same
-- precision as PostgreSQL's timestamptz. disabled is 0 or 1.
-- The code's BINARY collation (the default) compares byte by byte, so codes
-- are case-sensitive. WITHOUT ROWID keeps each row in the primary-key B-tree:
-- a lookup by code is a single tree search. STRICT refuses values of the
-- wrong type.
CREATE TABLE links (
	code       TEXT    NOT NULL PRIMARY KEY CHECK (code <> ''),
	id         INTEGER NOT NULL,
	url        TEXT    NOT NULL CHECK (url <> ''),
	status     INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 301, 302, 307, 308)),
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT, WITHOUT ROWID;
