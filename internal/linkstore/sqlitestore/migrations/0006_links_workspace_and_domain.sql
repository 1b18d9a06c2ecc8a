-- Workspaces and custom domains (issue 15; see pgstore's 0006 for the
-- design): workspace_id (existing links go to the default workspace, ID 1)
-- and domain ('' is the instance's own host, where existing links stay),
-- with (code, domain) as the primary key, so that the same custom alias
-- may one day name two links on two domains while the database keeps
-- refusing a second link with the same domain and code.
--
-- Until that day, links_code_key keeps a code unique across the domains,
-- as pgstore's 0006 (the expand step of a rolling upgrade) keeps its
-- primary key on code: both stores refuse the same alias on a second
-- domain until the contract step (0007, docs/decisions/0004-workspace-
-- links.md, "Rolling upgrade") drops it. SQLite itself has no rolling
-- upgrade (one process owns the file); the index is here so that the two
-- stores behave the same, and it is a separate index, not a UNIQUE in the
-- table, so that dropping it needs no second rebuild.
--
-- SQLite cannot change a table's primary key in place: the table is
-- rebuilt (a new table, the rows copied, the old one dropped, the new one
-- renamed, the indexes made again), in the migration's one transaction.
-- That rewrites the file's links once, under the write lock: seconds for a
-- million links, which is the scale the embedded store is for.
--
-- links_workspace_id_idx (workspace_id, id) of live links serves one
-- workspace's listing newest first and the count of its live links, as
-- on PostgreSQL.
CREATE TABLE links_0006 (
	code            TEXT    NOT NULL CHECK (code <> ''),
	domain          TEXT    NOT NULL DEFAULT '',
	id              INTEGER NOT NULL,
	url             TEXT    NOT NULL CHECK (url <> ''),
	status          INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 301, 302, 307, 308)),
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER,
	disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	host            TEXT,
	retired_at      INTEGER NULL,
	retired_reason  TEXT    NULL CHECK (retired_reason IS NULL OR retired_reason IN ('expired', 'deleted')),
	takedown_reason TEXT    NULL,
	takedown_at     INTEGER NULL,
	workspace_id    INTEGER NOT NULL DEFAULT 1 CHECK (workspace_id > 0),
	PRIMARY KEY (code, domain)
) STRICT, WITHOUT ROWID;

INSERT INTO links_0006 (code, id, url, status, created_at, expires_at, disabled, host,
	retired_at, retired_reason, takedown_reason, takedown_at)
SELECT code, id, url, status, created_at, expires_at, disabled, host,
	retired_at, retired_reason, takedown_reason, takedown_at
FROM links;

DROP TABLE links;
ALTER TABLE links_0006 RENAME TO links;

CREATE INDEX links_id_idx ON links (id);
CREATE INDEX links_host_id_idx ON links (shortify_reverse(host), id);
CREATE INDEX links_expires_at_idx ON links (expires_at)
	WHERE expires_at IS NOT NULL AND retired_at IS NULL;
CREATE INDEX links_workspace_id_idx ON links (workspace_id, id) WHERE retired_at IS NULL;
CREATE UNIQUE INDEX links_code_key ON links (code);
