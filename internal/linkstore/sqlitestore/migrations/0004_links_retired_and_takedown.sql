-- Retired links and takedowns (see pgstore's 0004 for the design): a
-- retired link keeps its row, so that its code is never issued again;
-- takedown_reason and takedown_at mark a link an administrator took down.
-- Times are INTEGER Unix microseconds, as elsewhere.
ALTER TABLE links ADD COLUMN retired_at INTEGER NULL;
ALTER TABLE links ADD COLUMN retired_reason TEXT NULL
	CHECK (retired_reason IS NULL OR retired_reason IN ('expired', 'deleted'));
ALTER TABLE links ADD COLUMN takedown_reason TEXT NULL;
ALTER TABLE links ADD COLUMN takedown_at INTEGER NULL;

-- The cleanup's index now leaves retired links out (see pgstore's 0004).
DROP INDEX links_expires_at_idx;
CREATE INDEX links_expires_at_idx ON links (expires_at)
	WHERE expires_at IS NOT NULL AND retired_at IS NULL;
