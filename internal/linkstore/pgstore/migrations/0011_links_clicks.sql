-- Click totals on links (issue 17): the all-time clicks of each link,
-- humans and bots together (clicks) and humans alone (clicks_humans), so
-- that GET /api/v1/links shows them and sorts by them
-- (sort=clicks). The stats ingest counts clicks in the stats database,
-- which may be another database; the leader's click-totals job
-- (controlplane/clicktotals) copies each changed link's totals here every
-- few seconds (Store.SetClicks): a denormalized copy, not live.
--
-- An EXPAND step only: NOT NULL columns with a constant default are a
-- catalogue change on PostgreSQL 11 and later (no rewrite); nodes of the
-- previous release neither name nor read them.
--
-- links_workspace_clicks_idx serves one workspace's listing by clicks
-- (workspace_id = $w ORDER BY clicks DESC, id DESC, the cursor a row
-- comparison (clicks, id) < ($c, $i)): on each partition a range of the
-- index, merged (Merge Append) until the limit. Partial on live links, as
-- links_workspace_id_idx. The index build blocks writes to links while
-- it runs (see 0002 for building it without).
ALTER TABLE links ADD COLUMN clicks bigint NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN clicks_humans bigint NOT NULL DEFAULT 0;

CREATE INDEX links_workspace_clicks_idx ON links (workspace_id, clicks DESC, id DESC) WHERE retired_at IS NULL;
