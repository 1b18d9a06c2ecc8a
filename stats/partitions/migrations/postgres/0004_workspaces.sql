-- Workspaces (issue 15): every aggregate row and raw click belongs to the
-- workspace of its link (workspace_id, the control plane's workspace ID;
-- workspace 1 is the default workspace, which owns everything from before
-- workspaces). The roll-ups are now of two kinds, both with code '' and
-- link_id 0:
--   * workspace_id 0: the instance-wide roll-up over all links, as before;
--   * workspace_id W > 0: the roll-up over workspace W's links, so that a
--     workspace's overview and top dimensions read its own few rows.
-- The primary keys gain workspace_id last: a link's rows stay keyed as
-- before (link_id decides the workspace), the roll-ups of one bucket are
-- one per workspace. A workspace's top links read the (workspace_id,
-- bucket) index of the totals tables instead of every link's rows. That
-- index is partial (links' rows only, code <> ''): the ingest's probes of
-- whole keys, (code, bucket, link_id, bot, workspace_id) = a parameter
-- row, cannot use it and so always take the primary key (a full index on
-- (workspace_id, bucket) looked cheaper to the planner of a fresh
-- partition, and each probe then walked a workspace's hour: ten times
-- slower ingest).
--
-- Existing rows go to workspace 1; each existing roll-up row is kept as
-- workspace 1's roll-up and copied as the instance-wide one (both were the
-- same clicks until now). The ALTERs on the partitioned parents reach
-- every attached partition and every partition created later (CREATE
-- TABLE ... PARTITION OF takes the parent's columns, keys and indexes).
-- Partitions that the retention detached before this migration keep the
-- old columns: attach them again only after adding workspace_id (see
-- docs/stats.md).

ALTER TABLE clicks
	ADD COLUMN workspace_id bigint NOT NULL DEFAULT 1,
	-- the link's domain, '' for the instance's own host
	ADD COLUMN domain text NOT NULL DEFAULT '',
	ADD CONSTRAINT clicks_workspace CHECK (workspace_id > 0);

ALTER TABLE clicks_hourly
	ADD COLUMN workspace_id bigint NOT NULL DEFAULT 1,
	DROP CONSTRAINT clicks_hourly_pkey,
	ADD CONSTRAINT clicks_hourly_pkey PRIMARY KEY (code, bucket, link_id, bot, workspace_id),
	ADD CONSTRAINT clicks_hourly_workspace CHECK (workspace_id > 0 OR (workspace_id = 0 AND code = ''));
INSERT INTO clicks_hourly (bucket, code, link_id, bot, clicks, visitors, dims, workspace_id)
	SELECT bucket, code, link_id, bot, clicks, visitors, dims, 0 FROM clicks_hourly WHERE code = '';
CREATE INDEX clicks_hourly_workspace_bucket ON clicks_hourly (workspace_id, bucket) WHERE code <> '';

ALTER TABLE clicks_daily
	ADD COLUMN workspace_id bigint NOT NULL DEFAULT 1,
	DROP CONSTRAINT clicks_daily_pkey,
	ADD CONSTRAINT clicks_daily_pkey PRIMARY KEY (code, bucket, link_id, bot, workspace_id),
	ADD CONSTRAINT clicks_daily_workspace CHECK (workspace_id > 0 OR (workspace_id = 0 AND code = ''));
INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, visitors, dims, workspace_id)
	SELECT bucket, code, link_id, bot, clicks, visitors, dims, 0 FROM clicks_daily WHERE code = '';
CREATE INDEX clicks_daily_workspace_bucket ON clicks_daily (workspace_id, bucket) WHERE code <> '';

-- The *_dims tables are no longer written, only read for rows older than
-- the dims column: the same keys and the same copy of the roll-up.
ALTER TABLE clicks_hourly_dims
	ADD COLUMN workspace_id bigint NOT NULL DEFAULT 1,
	DROP CONSTRAINT clicks_hourly_dims_pkey,
	ADD CONSTRAINT clicks_hourly_dims_pkey PRIMARY KEY (code, bucket, link_id, bot, dimension, value, workspace_id),
	ADD CONSTRAINT clicks_hourly_dims_workspace CHECK (workspace_id > 0 OR (workspace_id = 0 AND code = ''));
INSERT INTO clicks_hourly_dims (bucket, code, link_id, bot, dimension, value, clicks, workspace_id)
	SELECT bucket, code, link_id, bot, dimension, value, clicks, 0 FROM clicks_hourly_dims WHERE code = '';

ALTER TABLE clicks_daily_dims
	ADD COLUMN workspace_id bigint NOT NULL DEFAULT 1,
	DROP CONSTRAINT clicks_daily_dims_pkey,
	ADD CONSTRAINT clicks_daily_dims_pkey PRIMARY KEY (code, bucket, link_id, bot, dimension, value, workspace_id),
	ADD CONSTRAINT clicks_daily_dims_workspace CHECK (workspace_id > 0 OR (workspace_id = 0 AND code = ''));
INSERT INTO clicks_daily_dims (bucket, code, link_id, bot, dimension, value, clicks, workspace_id)
	SELECT bucket, code, link_id, bot, dimension, value, clicks, 0 FROM clicks_daily_dims WHERE code = '';
