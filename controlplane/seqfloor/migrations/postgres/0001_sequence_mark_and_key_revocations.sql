-- What a restored control plane must move past (package seqfloor,
-- docs/decisions/0006-backup-restore.md): the link database outlives and
-- often postdates the Raft backup it is restored with.
--
-- sequence_mark is one row: the highest sequence number of any block a
-- node fetched, written (GREATEST) before the node hands out a code of
-- the block, one write per block. A dump that holds a link then holds a
-- mark at or past its code's number.
CREATE TABLE sequence_mark (
	id         smallint    PRIMARY KEY CHECK (id = 1),
	high       bigint      NOT NULL CHECK (high >= 0),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- key_revocations lists every API key revoked, written before the
-- revocation goes through Raft: a restore revokes them again.
CREATE TABLE key_revocations (
	key_id     text   PRIMARY KEY,
	revoked_ms bigint NOT NULL CHECK (revoked_ms > 0)
);
