-- Workspaces and custom domains (issue 15): every link belongs to a
-- workspace and answers on a domain.
--
-- workspace_id: the workspace that holds the link. Existing links go to
-- the default workspace (ID 1, internal/workspace), which always exists.
--
-- domain: the custom domain the link answers on, a lower-case punycode
-- host name that the store checks in Go; '' is the instance's own host,
-- where every existing link stays. Its "C" collation compares byte by
-- byte, like code. Both columns have constant defaults, so adding them is
-- instant on PostgreSQL 11+ (no rewrite: the default lives in the
-- catalogue until a row is next written).
--
-- A link is now identified by (domain, code): the same custom alias may
-- name two links on two domains (generated codes stay unique across the
-- instance: they come from Raft-leased sequence blocks, not from the
-- database). The database keeps enforcing it, race-free, with the primary
-- key, now on (code, domain). links is hash-partitioned on code, and a
-- primary key (any unique index) of a partitioned table must contain the
-- partition key: (domain, code) alone is not allowed unless code is in it,
-- and with code first the key still serves every lookup by code (one
-- partition, one B-tree descent on code = $1 AND domain = $2) and List's
-- prefix ranges on code. A retired row keeps its (domain, code) for ever,
-- as before: only an administrator's release frees it.
--
-- links_workspace_id_idx (workspace_id, id) WHERE retired_at IS NULL:
-- one workspace's listing, newest first (workspace_id = $w AND id <
-- before ORDER BY id DESC LIMIT n), is a backward range of each
-- partition's index, merged as 0002's (id) scans are (Merge Append): 16
-- index descents and about LIMIT rows, whatever the number of links in
-- other workspaces. Without it the listing reads the (id) index and
-- filters out every other workspace's links: for a small workspace on a
-- large instance, the whole table. Partial, because List and CountLive
-- only read live links: retired links leave the index, and a count of a
-- workspace's live links is an index-only scan of its range (see
-- docs/decisions/0004-workspace-links.md for what that costs).
--
-- On a table of hundreds of millions of rows, this in-transaction rebuild
-- is not the way to deploy it: building the new primary key and the index
-- reads every row and blocks writes for as long (and the CHECK scans each
-- partition once). There, add the two columns (instant, as here) with the
-- CHECK as NOT VALID (VALIDATE CONSTRAINT later takes no write lock), then build the new unique index and
-- workspace index without blocking writes: CREATE UNIQUE INDEX
-- links_code_domain_key ON ONLY links (code, domain), CREATE UNIQUE INDEX
-- CONCURRENTLY on each partition and ALTER INDEX ... ATTACH PARTITION each
-- (likewise for links_workspace_id_idx); then drop links_pkey (the unique
-- index on (code, domain) enforces the same uniqueness and serves ON
-- CONFLICT (code, domain); PostgreSQL cannot promote an index of a
-- partitioned table to its primary key, so the table keeps the unique
-- index instead of a primary key), and record version 6 in
-- schema_migrations by hand. Deploy the code of this version only after:
-- its inserts name (code, domain) as the conflict target.
ALTER TABLE links
	ADD COLUMN workspace_id bigint NOT NULL DEFAULT 1,
	ADD COLUMN domain text COLLATE "C" NOT NULL DEFAULT '',
	ADD CONSTRAINT links_workspace_id_valid CHECK (workspace_id > 0),
	DROP CONSTRAINT links_pkey,
	ADD CONSTRAINT links_pkey PRIMARY KEY (code, domain);

CREATE INDEX links_workspace_id_idx ON links (workspace_id, id) WHERE retired_at IS NULL;
