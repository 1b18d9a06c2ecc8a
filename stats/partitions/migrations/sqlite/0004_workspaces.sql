-- Workspaces: see migrations/postgres/0004_workspaces.sql. SQLite cannot
-- change a primary key in place: each aggregate table is made again with
-- workspace_id in its key, its rows copied (workspace 1's, and each
-- roll-up row once more as the instance-wide roll-up, workspace_id 0),
-- and its index made again.

ALTER TABLE clicks ADD COLUMN workspace_id INTEGER NOT NULL DEFAULT 1 CHECK (workspace_id > 0);
ALTER TABLE clicks ADD COLUMN domain TEXT NOT NULL DEFAULT '';

CREATE TABLE clicks_hourly_new (
	bucket       INTEGER NOT NULL CHECK (bucket % 3600000000 = 0),
	code         TEXT    NOT NULL,
	link_id      INTEGER NOT NULL,
	bot          INTEGER NOT NULL CHECK (bot IN (0, 1)),
	clicks       INTEGER NOT NULL CHECK (clicks >= 0),
	visitors     BLOB,
	dims         BLOB,
	workspace_id INTEGER NOT NULL DEFAULT 1,
	PRIMARY KEY (code, bucket, link_id, bot, workspace_id),
	CHECK ((code = '') = (link_id = 0)),
	CHECK (workspace_id > 0 OR (workspace_id = 0 AND code = ''))
) STRICT;
INSERT INTO clicks_hourly_new (bucket, code, link_id, bot, clicks, visitors, dims, workspace_id)
	SELECT bucket, code, link_id, bot, clicks, visitors, dims, 1 FROM clicks_hourly
	UNION ALL
	SELECT bucket, code, link_id, bot, clicks, visitors, dims, 0 FROM clicks_hourly WHERE code = '';
DROP TABLE clicks_hourly;
ALTER TABLE clicks_hourly_new RENAME TO clicks_hourly;
CREATE INDEX clicks_hourly_time ON clicks_hourly (bucket);
CREATE INDEX clicks_hourly_workspace_bucket ON clicks_hourly (workspace_id, bucket) WHERE code <> '';

CREATE TABLE clicks_daily_new (
	bucket       INTEGER NOT NULL CHECK (bucket % 86400000000 = 0),
	code         TEXT    NOT NULL,
	link_id      INTEGER NOT NULL,
	bot          INTEGER NOT NULL CHECK (bot IN (0, 1)),
	clicks       INTEGER NOT NULL CHECK (clicks >= 0),
	visitors     BLOB,
	dims         BLOB,
	workspace_id INTEGER NOT NULL DEFAULT 1,
	PRIMARY KEY (code, bucket, link_id, bot, workspace_id),
	CHECK ((code = '') = (link_id = 0)),
	CHECK (workspace_id > 0 OR (workspace_id = 0 AND code = ''))
) STRICT;
INSERT INTO clicks_daily_new (bucket, code, link_id, bot, clicks, visitors, dims, workspace_id)
	SELECT bucket, code, link_id, bot, clicks, visitors, dims, 1 FROM clicks_daily
	UNION ALL
	SELECT bucket, code, link_id, bot, clicks, visitors, dims, 0 FROM clicks_daily WHERE code = '';
DROP TABLE clicks_daily;
ALTER TABLE clicks_daily_new RENAME TO clicks_daily;
CREATE INDEX clicks_daily_time ON clicks_daily (bucket);
CREATE INDEX clicks_daily_workspace_bucket ON clicks_daily (workspace_id, bucket) WHERE code <> '';

CREATE TABLE clicks_hourly_dims_new (
	bucket       INTEGER NOT NULL CHECK (bucket % 3600000000 = 0),
	code         TEXT    NOT NULL,
	link_id      INTEGER NOT NULL,
	bot          INTEGER NOT NULL CHECK (bot IN (0, 1)),
	dimension    TEXT    NOT NULL CHECK (dimension IN ('referrer', 'country', 'device', 'browser', 'os', 'status')),
	value        TEXT    NOT NULL,
	clicks       INTEGER NOT NULL CHECK (clicks >= 0),
	workspace_id INTEGER NOT NULL DEFAULT 1,
	PRIMARY KEY (code, bucket, link_id, bot, dimension, value, workspace_id),
	CHECK ((code = '') = (link_id = 0)),
	CHECK (workspace_id > 0 OR (workspace_id = 0 AND code = ''))
) STRICT;
INSERT INTO clicks_hourly_dims_new (bucket, code, link_id, bot, dimension, value, clicks, workspace_id)
	SELECT bucket, code, link_id, bot, dimension, value, clicks, 1 FROM clicks_hourly_dims
	UNION ALL
	SELECT bucket, code, link_id, bot, dimension, value, clicks, 0 FROM clicks_hourly_dims WHERE code = '';
DROP TABLE clicks_hourly_dims;
ALTER TABLE clicks_hourly_dims_new RENAME TO clicks_hourly_dims;
CREATE INDEX clicks_hourly_dims_time ON clicks_hourly_dims (bucket);

CREATE TABLE clicks_daily_dims_new (
	bucket       INTEGER NOT NULL CHECK (bucket % 86400000000 = 0),
	code         TEXT    NOT NULL,
	link_id      INTEGER NOT NULL,
	bot          INTEGER NOT NULL CHECK (bot IN (0, 1)),
	dimension    TEXT    NOT NULL CHECK (dimension IN ('referrer', 'country', 'device', 'browser', 'os', 'status')),
	value        TEXT    NOT NULL,
	clicks       INTEGER NOT NULL CHECK (clicks >= 0),
	workspace_id INTEGER NOT NULL DEFAULT 1,
	PRIMARY KEY (code, bucket, link_id, bot, dimension, value, workspace_id),
	CHECK ((code = '') = (link_id = 0)),
	CHECK (workspace_id > 0 OR (workspace_id = 0 AND code = ''))
) STRICT;
INSERT INTO clicks_daily_dims_new (bucket, code, link_id, bot, dimension, value, clicks, workspace_id)
	SELECT bucket, code, link_id, bot, dimension, value, clicks, 1 FROM clicks_daily_dims
	UNION ALL
	SELECT bucket, code, link_id, bot, dimension, value, clicks, 0 FROM clicks_daily_dims WHERE code = '';
DROP TABLE clicks_daily_dims;
ALTER TABLE clicks_daily_dims_new RENAME TO clicks_daily_dims;
CREATE INDEX clicks_daily_dims_time ON clicks_daily_dims (bucket);
