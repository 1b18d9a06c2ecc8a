-- The reported link's domain: '' for the instance's own host, else the
-- verified custom domain (lower-case punycode) the reported short URL was
-- on. A link is (domain, code) since custom domains; reports made before
-- were all of the own host's links.
ALTER TABLE abuse_reports ADD COLUMN domain text NOT NULL DEFAULT '';
