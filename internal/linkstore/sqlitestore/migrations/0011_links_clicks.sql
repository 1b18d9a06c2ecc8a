-- Click totals on links (issue 17; see pgstore's 0011): the all-time
-- clicks of each link (clicks: humans and bots; clicks_humans), copied
-- from the stats database by the leader's click-totals job, and an index
-- for one workspace's listing by clicks. ADD COLUMN with a constant
-- default changes the schema text alone.
ALTER TABLE links ADD COLUMN clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN clicks_humans INTEGER NOT NULL DEFAULT 0;

CREATE INDEX links_workspace_clicks_idx ON links (workspace_id, clicks DESC, id DESC) WHERE retired_at IS NULL;
