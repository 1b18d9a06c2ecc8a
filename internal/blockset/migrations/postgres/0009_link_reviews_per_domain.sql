-- Review flags keyed by (domain, code), as links are since 0007: a flag of
-- a custom domain's link no longer shows on the own host's link with the
-- same code. domain is '' for the instance's own host, else the custom
-- domain (lower-case punycode). Flags made before are taken as the own
-- host's (they were kept by code alone, so which link they were about is
-- not recorded); an administrator resolves those left over.
ALTER TABLE link_reviews ADD COLUMN domain text NOT NULL DEFAULT '';
ALTER TABLE link_reviews DROP CONSTRAINT link_reviews_pkey;
ALTER TABLE link_reviews ADD PRIMARY KEY (domain, code);
DROP INDEX link_reviews_flagged_at;
CREATE INDEX link_reviews_flagged_at ON link_reviews (flagged_at DESC, domain DESC, code DESC);
