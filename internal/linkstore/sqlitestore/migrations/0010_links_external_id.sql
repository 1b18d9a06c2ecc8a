-- External IDs (issue 17; see pgstore's 0010): the creator's own
-- identifier of a link, unique among the live links of a workspace.
-- A nullable column without a default: a change of the schema text only.
--
-- Here a unique partial index enforces it (the table is not partitioned):
-- a retired link leaves the index, which frees its external ID. The store
-- checks for the existing link first, in its write transaction, to name
-- it in the refusal (linkstore.ExternalIDTakenError).
ALTER TABLE links ADD COLUMN external_id TEXT;

CREATE UNIQUE INDEX links_external_id_key ON links (workspace_id, external_id)
	WHERE external_id IS NOT NULL AND retired_at IS NULL;
