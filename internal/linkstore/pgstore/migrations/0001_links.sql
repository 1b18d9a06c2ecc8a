-- links: one row per short link. Hash-partitioned on the code, which is the
-- primary key: the database enforces that every code (generated or custom) is
-- unique, and a lookup by code touches exactly one partition.
--
-- code uses the "C" collation: codes are compared byte by byte (case-
-- sensitive, as they must be), and the primary-key B-tree compares with
-- memcmp instead of the locale's rules, which is cheaper on every lookup.
CREATE TABLE links (
	code       text COLLATE "C" NOT NULL,
	id         bigint      NOT NULL,
	url        text        NOT NULL,
	status     smallint    NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NULL,
	disabled   boolean     NOT NULL DEFAULT false,
	CONSTRAINT links_pkey PRIMARY KEY (code),
	CONSTRAINT links_code_not_empty CHECK (code <> ''),
	CONSTRAINT links_url_not_empty CHECK (url <> ''),
	CONSTRAINT links_status_valid CHECK (status IN (0, 301, 302, 307, 308))
) PARTITION BY HASH (code);

CREATE TABLE links_p00 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 0);
CREATE TABLE links_p01 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 1);
CREATE TABLE links_p02 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 2);
CREATE TABLE links_p03 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 3);
CREATE TABLE links_p04 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 4);
CREATE TABLE links_p05 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 5);
CREATE TABLE links_p06 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 6);
CREATE TABLE links_p07 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 7);
CREATE TABLE links_p08 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 8);
CREATE TABLE links_p09 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 9);
CREATE TABLE links_p10 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 10);
CREATE TABLE links_p11 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 11);
CREATE TABLE links_p12 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 12);
CREATE TABLE links_p13 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 13);
CREATE TABLE links_p14 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 14);
CREATE TABLE links_p15 PARTITION OF links FOR VALUES WITH (MODULUS 16, REMAINDER 15);
