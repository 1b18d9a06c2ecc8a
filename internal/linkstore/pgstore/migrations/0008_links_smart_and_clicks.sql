-- Smart links (issue 16): a link's click-time options, and the exact
-- click counter of the links that have a click limit.
--
-- smart: the options in their stored JSON form (smartlink.Options,
-- MarshalStored), NULL for a plain link, which is most links: a nullable
-- column without a default is a catalogue change (no rewrite), and NULL
-- costs a bit in the row's null bitmap. An EXPAND step only: nodes of the
-- previous release neither name nor read the column, so they keep working
-- while the release rolls out (their inserts store NULL, a plain link).
-- jsonb, so that an operator can query the options; the store reads and
-- writes the JSON text and checks it in Go (ParseStored).
--
-- link_clicks: how many clicks of a limited link were counted, keyed by
-- the link's Snowflake ID (a code released and issued again starts from
-- zero). One conditional upsert claims a click (ClaimClick; see
-- docs/decisions/0005-exact-click-limits.md). A table of its own, not a
-- column of links: a claim then locks and rewrites one small row, not the
-- link's, and the hot rows of a popular limited link do not bloat links.
-- No foreign key: links is partitioned by code, and a link's row outlives
-- the counting anyway (a retired link keeps its row).
ALTER TABLE links ADD COLUMN smart jsonb;

CREATE TABLE link_clicks (
	link_id bigint PRIMARY KEY,
	used    bigint NOT NULL CHECK (used >= 0)
);
