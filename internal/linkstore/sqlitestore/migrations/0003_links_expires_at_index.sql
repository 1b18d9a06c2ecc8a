-- links_expires_at_idx: the leader's cleanup finds expired links through it
-- (DeleteExpired: expires_at <= ?, a batch at a time) instead of reading
-- the whole table. Partial: most links never expire, and only those that do
-- are indexed. SQLite uses a partial index WHERE x IS NOT NULL for any
-- comparison on x, which DeleteExpired's query is.
CREATE INDEX links_expires_at_idx ON links (expires_at) WHERE expires_at IS NOT NULL;
