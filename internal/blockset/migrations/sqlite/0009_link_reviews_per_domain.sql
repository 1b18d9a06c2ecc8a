-- Review flags keyed by (domain, code), as on PostgreSQL (see
-- migrations/postgres/0009_link_reviews_per_domain.sql). SQLite cannot
-- change a primary key in place: the table is copied.
CREATE TABLE link_reviews_new (
	domain     TEXT    NOT NULL DEFAULT '',
	code       TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	source     TEXT    NOT NULL,
	flagged_at INTEGER NOT NULL,
	PRIMARY KEY (domain, code)
) STRICT, WITHOUT ROWID;
INSERT INTO link_reviews_new (domain, code, reason, source, flagged_at)
	SELECT '', code, reason, source, flagged_at FROM link_reviews;
DROP TABLE link_reviews;
ALTER TABLE link_reviews_new RENAME TO link_reviews;
CREATE INDEX link_reviews_flagged_at ON link_reviews (flagged_at DESC, domain DESC, code DESC);
