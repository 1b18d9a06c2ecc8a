-- host and the indexes that List reads: the same column and indexes as
-- PostgreSQL's migration 0002, which explains the choice.
--
-- host is the target URL's host in lower case, without port, brackets or
-- trailing dot (NULL when the URL has none), derived by the store in Go.
-- The backfill calls the same Go code: shortify_url_host is a function the
-- store registers with the driver, as is shortify_reverse (PostgreSQL's
-- reverse()); see the package documentation.
--
-- links_id_idx (id) serves the newest-first listing read backwards from
-- the cursor; links_host_id_idx (shortify_reverse(host), id) serves a
-- host in ID order and its subdomains as one range ("a.example.com"
-- reversed starts with "moc.elpmaxe."). Both hold the code too (the key
-- of a WITHOUT ROWID table).
ALTER TABLE links ADD COLUMN host TEXT;

UPDATE links SET host = shortify_url_host(url);

CREATE INDEX links_id_idx ON links (id);
CREATE INDEX links_host_id_idx ON links (shortify_reverse(host), id);
