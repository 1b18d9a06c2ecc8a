-- The mirror of the custom-domain registry, as on PostgreSQL (see
-- migrations/postgres/0008_domain_mirror.sql). Times are INTEGER Unix
-- microseconds in UTC, as in the link store.
CREATE TABLE domain_mirror (
	domain             TEXT    NOT NULL PRIMARY KEY CHECK (domain <> ''),
	workspace_id       INTEGER NOT NULL,
	verified           INTEGER NOT NULL,
	root_redirect      TEXT    NOT NULL DEFAULT '',
	not_found_redirect TEXT    NOT NULL DEFAULT '',
	redirect_status    INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TABLE domain_mirror_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	generation INTEGER NOT NULL,
	digest     TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;
