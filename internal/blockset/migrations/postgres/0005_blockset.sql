-- The shared block set (threat feeds and the admin domain blocklist, merged
-- by the Raft leader) and the links flagged for review. Numbered 0005 in
-- the sequence of Shortify's schema changes; recorded in
-- blockset_migrations.
--
-- blockset_entries: kind 'host' blocks a host and its subdomains, 'url' one
-- URL key (threatlist.URLKey); source names the list (a feed, or the admin
-- blocklist).
CREATE TABLE blockset_entries (
	kind   text NOT NULL CHECK (kind IN ('host', 'url')),
	value  text NOT NULL CHECK (value <> ''),
	source text NOT NULL,
	PRIMARY KEY (kind, value)
);

-- blockset_state: one row; generation grows by one with every change of
-- the entries, which is what edges poll; digest is the hash of the
-- entries, so that an unchanged refresh writes nothing.
CREATE TABLE blockset_state (
	id         integer     PRIMARY KEY CHECK (id = 1),
	generation bigint      NOT NULL,
	digest     text        NOT NULL,
	updated_at timestamptz NOT NULL
);

-- link_reviews: links whose target a list named after they were created
-- (or a look-alike host accepted with lookalike_hosts flag).
CREATE TABLE link_reviews (
	code       text        PRIMARY KEY,
	reason     text        NOT NULL,
	source     text        NOT NULL,
	flagged_at timestamptz NOT NULL
);
CREATE INDEX link_reviews_flagged_at ON link_reviews (flagged_at DESC, code DESC);
