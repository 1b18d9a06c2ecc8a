-- Retired links and takedowns.
--
-- A code, once issued, is never issued again: expiry (the leader's
-- cleanup) and deletion (the API) no longer delete a link's row but mark
-- it retired (retired_at, retired_reason), so that the primary key keeps
-- refusing the code to every later create, race-free, without a second
-- table. Only an administrator's release (DELETE /api/v1/admin/codes/{code})
-- removes a retired row. The owner's reads (Get, List, Update) skip retired
-- rows; the redirect path reads retired-expired ones, which keep answering
-- 410.
--
-- takedown_reason and takedown_at mark a link an administrator took down:
-- the edge answers 451 with the reason, and the owner cannot change it.
--
-- Adding nullable columns without a default is instant on PostgreSQL 11+
-- (no rewrite); the CHECK constraints scan each partition once.
ALTER TABLE links
	ADD COLUMN retired_at      timestamptz NULL,
	ADD COLUMN retired_reason  text        NULL,
	ADD COLUMN takedown_reason text        NULL,
	ADD COLUMN takedown_at     timestamptz NULL,
	ADD CONSTRAINT links_retired_valid CHECK (
		(retired_at IS NULL AND retired_reason IS NULL) OR
		(retired_at IS NOT NULL AND retired_reason IN ('expired', 'deleted'))),
	ADD CONSTRAINT links_takedown_valid CHECK (
		(takedown_at IS NULL) = (takedown_reason IS NULL));

-- The cleanup's index (0003) now serves "expires_at <= now AND retired_at
-- IS NULL": retired links leave it, so it stays as small as the backlog of
-- links to retire instead of growing with every link that ever expired.
-- (On a large table: build the new index without blocking writes first, as
-- 0003 describes, then drop the old one, and record version 4 by hand.)
DROP INDEX links_expires_at_idx;
CREATE INDEX links_expires_at_idx ON links (expires_at)
	WHERE expires_at IS NOT NULL AND retired_at IS NULL;
