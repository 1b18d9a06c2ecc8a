-- External IDs (issue 17): the creator's own identifier of a link, like
-- Dub's externalId, unique among the live links of a workspace; importers
-- use it to create nothing on a second run.
--
-- An EXPAND step only: a nullable column without a default (a catalogue
-- change, no rewrite), which nodes of the previous release neither name
-- nor write. "C" collation: compared byte by byte, as the creator gave it.
--
-- No unique index enforces the uniqueness: links is hash-partitioned on
-- code, and PostgreSQL refuses a unique index on a partitioned table that
-- lacks the partition key ("unique constraint on partitioned table must
-- include all partitioning columns"); (workspace_id, external_id, code)
-- would not be unique per workspace. Instead every writer of an external
-- ID takes pg_advisory_xact_lock(class, linkstore.ExternalIDLockKey) for
-- it, checks this index for a live link that has it, and writes, in one
-- transaction (pgstore's externalid.go): two writers of one external ID
-- queue on the lock, and the second sees the first's committed row.
-- Nodes of the previous release never set an external ID, so they cannot
-- bypass it. A retired link leaves the index (partial on retired_at IS
-- NULL), which frees its external ID, and a workspace's lookup by
-- external ID (GET /api/v1/links?external_id=X) is one descent per
-- partition.
ALTER TABLE links ADD COLUMN external_id text COLLATE "C";

CREATE INDEX links_external_id_idx ON links (workspace_id, external_id)
	WHERE external_id IS NOT NULL AND retired_at IS NULL;
