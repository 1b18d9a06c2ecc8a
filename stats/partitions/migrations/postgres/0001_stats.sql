-- The stats database's time series. The stats service (issue 5) writes
-- them; the control plane's Raft leader keeps their monthly partitions:
-- the current month plus N ahead exist, and months past the retention are
-- dropped or detached. The partitions are not created here but by the
-- partition manager (stats/partitions), named TABLE_yYYYYmMM and
-- bounded by UTC month starts, [first of the month, first of the next).
--
-- Conventions shared by every table:
--   * times are timestamptz; buckets are UTC hour or day starts;
--   * code uses the "C" collation, as links.code does (byte-wise,
--     case-sensitive); link_id is the link's Snowflake ID, which tells a
--     deleted link's statistics from those of a later link that reuses its
--     alias;
--   * in the aggregates, code '' with link_id 0 is the roll-up over all
--     links (the overview), so that it is read without a scan of every link;
--   * unknown dimension values are '' (never NULL), so that they group and
--     take part in primary keys;
--   * no raw IP address is ever stored: a visitor is a keyed 64-bit hash.

-- clicks: raw click rows. Optional: the stats service may keep none, and
-- the aggregates below do not depend on them.
CREATE TABLE clicks (
	occurred_at   timestamptz      NOT NULL,
	code          text COLLATE "C" NOT NULL,
	link_id       bigint           NOT NULL,
	-- keyed hash of the visitor (e.g. of IP and user agent); NULL if unknown
	visitor_hash  bigint           NULL,
	-- host of the Referer header, lower case, '' when absent
	referrer_host text             NOT NULL DEFAULT '',
	-- ISO 3166-1 alpha-2, upper case, '' when unknown
	country       text             NOT NULL DEFAULT '',
	-- device class: desktop, mobile, tablet, bot, other, or ''
	device        text             NOT NULL DEFAULT '',
	browser       text             NOT NULL DEFAULT '',
	os            text             NOT NULL DEFAULT '',
	bot           boolean          NOT NULL DEFAULT false,
	-- the HTTP status the edge served (301, 302, 307, 308, 404, 410, ...)
	status        smallint         NOT NULL,
	CONSTRAINT clicks_code_not_empty CHECK (code <> ''),
	CONSTRAINT clicks_status_valid CHECK (status BETWEEN 100 AND 599)
) PARTITION BY RANGE (occurred_at);

-- A link's clicks over a time range; each partition gets its own index.
CREATE INDEX clicks_code_occurred_at ON clicks (code, occurred_at);

-- clicks_hourly and clicks_daily: totals per bucket, link and human/bot.
-- visitors is an approximate-distinct sketch (HyperLogLog registers) of the
-- visitor hashes, in a format the stats service owns; sketches of several
-- buckets merge into the unique visitors of a range.
CREATE TABLE clicks_hourly (
	bucket   timestamptz      NOT NULL,
	code     text COLLATE "C" NOT NULL,
	link_id  bigint           NOT NULL,
	bot      boolean          NOT NULL,
	clicks   bigint           NOT NULL,
	visitors bytea            NULL,
	CONSTRAINT clicks_hourly_pkey PRIMARY KEY (code, bucket, link_id, bot),
	CONSTRAINT clicks_hourly_rollup CHECK ((code = '') = (link_id = 0)),
	CONSTRAINT clicks_hourly_clicks CHECK (clicks >= 0),
	CONSTRAINT clicks_hourly_bucket CHECK (extract(epoch FROM bucket) % 3600 = 0)
) PARTITION BY RANGE (bucket);

CREATE TABLE clicks_daily (
	bucket   timestamptz      NOT NULL,
	code     text COLLATE "C" NOT NULL,
	link_id  bigint           NOT NULL,
	bot      boolean          NOT NULL,
	clicks   bigint           NOT NULL,
	visitors bytea            NULL,
	CONSTRAINT clicks_daily_pkey PRIMARY KEY (code, bucket, link_id, bot),
	CONSTRAINT clicks_daily_rollup CHECK ((code = '') = (link_id = 0)),
	CONSTRAINT clicks_daily_clicks CHECK (clicks >= 0),
	CONSTRAINT clicks_daily_bucket CHECK (extract(epoch FROM bucket) % 86400 = 0)
) PARTITION BY RANGE (bucket);

-- clicks_hourly_dims and clicks_daily_dims: clicks per bucket, link,
-- human/bot and one dimension's value, one row per (dimension, value). Top-N
-- lists are a GROUP BY value over a range of buckets. dimension is one of
--   referrer  the referrer host
--   country   ISO 3166-1 alpha-2
--   device    device class
--   browser   browser family
--   os        operating-system family
--   status    the redirect status served, as decimal text ('302')
CREATE TABLE clicks_hourly_dims (
	bucket    timestamptz      NOT NULL,
	code      text COLLATE "C" NOT NULL,
	link_id   bigint           NOT NULL,
	bot       boolean          NOT NULL,
	dimension text             NOT NULL,
	value     text             NOT NULL,
	clicks    bigint           NOT NULL,
	CONSTRAINT clicks_hourly_dims_pkey PRIMARY KEY (code, bucket, link_id, bot, dimension, value),
	CONSTRAINT clicks_hourly_dims_rollup CHECK ((code = '') = (link_id = 0)),
	CONSTRAINT clicks_hourly_dims_dimension CHECK (dimension IN ('referrer', 'country', 'device', 'browser', 'os', 'status')),
	CONSTRAINT clicks_hourly_dims_clicks CHECK (clicks >= 0),
	CONSTRAINT clicks_hourly_dims_bucket CHECK (extract(epoch FROM bucket) % 3600 = 0)
) PARTITION BY RANGE (bucket);

CREATE TABLE clicks_daily_dims (
	bucket    timestamptz      NOT NULL,
	code      text COLLATE "C" NOT NULL,
	link_id   bigint           NOT NULL,
	bot       boolean          NOT NULL,
	dimension text             NOT NULL,
	value     text             NOT NULL,
	clicks    bigint           NOT NULL,
	CONSTRAINT clicks_daily_dims_pkey PRIMARY KEY (code, bucket, link_id, bot, dimension, value),
	CONSTRAINT clicks_daily_dims_rollup CHECK ((code = '') = (link_id = 0)),
	CONSTRAINT clicks_daily_dims_dimension CHECK (dimension IN ('referrer', 'country', 'device', 'browser', 'os', 'status')),
	CONSTRAINT clicks_daily_dims_clicks CHECK (clicks >= 0),
	CONSTRAINT clicks_daily_dims_bucket CHECK (extract(epoch FROM bucket) % 86400 = 0)
) PARTITION BY RANGE (bucket);
