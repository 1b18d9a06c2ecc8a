-- The stats tables of the embedded default: the same tables and columns as
-- on PostgreSQL (see migrations/postgres/0001_stats.sql for their meaning),
-- unpartitioned. SQLite has no partitions; the retention deletes old rows
-- instead, in batches, which the *_time indexes make cheap.
--
-- Times are INTEGER Unix microseconds in UTC, as in the link store; bot is
-- 0 or 1. STRICT refuses values of the wrong type.

CREATE TABLE clicks (
	occurred_at   INTEGER NOT NULL,
	code          TEXT    NOT NULL CHECK (code <> ''),
	link_id       INTEGER NOT NULL,
	visitor_hash  INTEGER,
	referrer_host TEXT    NOT NULL DEFAULT '',
	country       TEXT    NOT NULL DEFAULT '',
	device        TEXT    NOT NULL DEFAULT '',
	browser       TEXT    NOT NULL DEFAULT '',
	os            TEXT    NOT NULL DEFAULT '',
	bot           INTEGER NOT NULL DEFAULT 0 CHECK (bot IN (0, 1)),
	status        INTEGER NOT NULL CHECK (status BETWEEN 100 AND 599)
) STRICT;
CREATE INDEX clicks_code_occurred_at ON clicks (code, occurred_at);
CREATE INDEX clicks_time ON clicks (occurred_at);

CREATE TABLE clicks_hourly (
	bucket   INTEGER NOT NULL CHECK (bucket % 3600000000 = 0),
	code     TEXT    NOT NULL,
	link_id  INTEGER NOT NULL,
	bot      INTEGER NOT NULL CHECK (bot IN (0, 1)),
	clicks   INTEGER NOT NULL CHECK (clicks >= 0),
	visitors BLOB,
	PRIMARY KEY (code, bucket, link_id, bot),
	CHECK ((code = '') = (link_id = 0))
) STRICT;
CREATE INDEX clicks_hourly_time ON clicks_hourly (bucket);

CREATE TABLE clicks_daily (
	bucket   INTEGER NOT NULL CHECK (bucket % 86400000000 = 0),
	code     TEXT    NOT NULL,
	link_id  INTEGER NOT NULL,
	bot      INTEGER NOT NULL CHECK (bot IN (0, 1)),
	clicks   INTEGER NOT NULL CHECK (clicks >= 0),
	visitors BLOB,
	PRIMARY KEY (code, bucket, link_id, bot),
	CHECK ((code = '') = (link_id = 0))
) STRICT;
CREATE INDEX clicks_daily_time ON clicks_daily (bucket);

CREATE TABLE clicks_hourly_dims (
	bucket    INTEGER NOT NULL CHECK (bucket % 3600000000 = 0),
	code      TEXT    NOT NULL,
	link_id   INTEGER NOT NULL,
	bot       INTEGER NOT NULL CHECK (bot IN (0, 1)),
	dimension TEXT    NOT NULL CHECK (dimension IN ('referrer', 'country', 'device', 'browser', 'os', 'status')),
	value     TEXT    NOT NULL,
	clicks    INTEGER NOT NULL CHECK (clicks >= 0),
	PRIMARY KEY (code, bucket, link_id, bot, dimension, value),
	CHECK ((code = '') = (link_id = 0))
) STRICT;
CREATE INDEX clicks_hourly_dims_time ON clicks_hourly_dims (bucket);

CREATE TABLE clicks_daily_dims (
	bucket    INTEGER NOT NULL CHECK (bucket % 86400000000 = 0),
	code      TEXT    NOT NULL,
	link_id   INTEGER NOT NULL,
	bot       INTEGER NOT NULL CHECK (bot IN (0, 1)),
	dimension TEXT    NOT NULL CHECK (dimension IN ('referrer', 'country', 'device', 'browser', 'os', 'status')),
	value     TEXT    NOT NULL,
	clicks    INTEGER NOT NULL CHECK (clicks >= 0),
	PRIMARY KEY (code, bucket, link_id, bot, dimension, value),
	CHECK ((code = '') = (link_id = 0))
) STRICT;
CREATE INDEX clicks_daily_dims_time ON clicks_daily_dims (bucket);
