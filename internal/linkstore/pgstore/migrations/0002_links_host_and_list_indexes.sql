-- host and the indexes that List reads.
--
-- host is the target URL's host in lower case, without port, brackets or
-- trailing dot (NULL when the URL has none). The store derives it in Go
-- (net/url) on every Create, CreateMany and Update of the URL; the backfill
-- below is a regular-expression stand-in that agrees with it on http(s)
-- URLs. Its "C" collation makes reverse(host) compare byte by byte, like
-- code.
--
-- List reads links newest first (ORDER BY id DESC, Snowflake IDs are
-- time-ordered) after a cursor (id < before) with a LIMIT. links is
-- hash-partitioned on code, so no partition holds an ID range: without an
-- index on id, every listing would read and sort all 500 million rows.
-- With these indexes on the partitioned parent (each partition gets its
-- own, and partitions added later inherit them):
--
--   links_id_idx (id): every partition's index is read backwards from the
--   cursor and the 16 ordered streams are merged (Merge Append) until the
--   limit: 16 index descents and about LIMIT rows, whatever the table's
--   size. MinID/MaxID (a creation-time range) are bounds of the same scan.
--   It cannot be UNIQUE: a unique index on a partitioned table must contain
--   the partition key. Snowflake IDs are unique by construction, and new
--   IDs always go to the right edge of the B-tree, which stays in cache.
--
--   links_host_id_idx (reverse(host), id) rather than (host, id): both
--   serve the exact host in ID order (host = X AND id < before ORDER BY id
--   DESC LIMIT n reads the n entries before the cursor), but only the
--   reversed form also serves subdomains: "a.example.com" reversed is
--   "moc.elpmaxe.a", so every subdomain of example.com is one range of the
--   index, the reversed strings in ["moc.elpmaxe.", "moc.elpmaxe/"), where
--   a suffix test (host LIKE '%.example.com') could not use the index and
--   would read the whole table for a rare host. List queries the exact host
--   and the subdomain range as two branches of a UNION ALL, each with the
--   limit: the exact branch stops after LIMIT entries; the subdomain
--   branch reads the links of the subdomains in that ID range and sorts
--   them (a top-N sort).
--
--   A prefix on code is a range of the primary key (code >= p AND code <
--   p's successor, "C" collation). For a prefix or a subdomain range the
--   planner picks between the range (few matching links) and the (id)
--   index read backwards with a filter (many) from the statistics and the
--   values, so List has each query planned for its values (see
--   pgstore.Store.List): a generic plan cannot tell a rare host from a
--   common one.
--
-- Each index costs every insert one more B-tree insertion per link (three
-- in all with the primary key); these two are what the listings need and
-- nothing more.
--
-- On a table that already holds hundreds of millions of rows, this
-- migration is not the way to deploy the change: it runs in one
-- transaction, the UPDATE rewrites every row, and CREATE INDEX on the
-- parent blocks writes while it builds. There, add the column (instant:
-- no default), deploy the code that fills it, backfill in batches of IDs
-- outside a transaction, then CREATE INDEX ... ON ONLY links, CREATE INDEX
-- CONCURRENTLY on each partition and ALTER INDEX ... ATTACH PARTITION each,
-- and finally record version 2 in schema_migrations by hand.
ALTER TABLE links ADD COLUMN host text COLLATE "C" NULL;

-- The authority after "scheme://" up to the path, query or fragment;
-- without userinfo (up to the last "@"); the bracketed IPv6 literal
-- without brackets, or else the host without ":port"; lower case and
-- without trailing dots.
UPDATE links SET host = NULLIF(rtrim(lower(
	regexp_replace(
		regexp_replace(
			substring(url FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)'),
			'^.*@', ''),
		'^\[([^]]*)\].*$|:[0-9]*$', '\1')
	), '.'), '');

CREATE INDEX links_id_idx ON links (id);
CREATE INDEX links_host_id_idx ON links (reverse(host), id);
