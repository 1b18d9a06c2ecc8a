-- The mirror of the custom-domain registry (the control plane's Raft FSM)
-- in the link database, which the edges read (they never call the control
-- plane). Numbered 0008 in the sequence of Shortify's schema changes;
-- recorded in domainmirror_migrations. The Raft leader writes it.
--
-- domain_mirror: one row per registered domain (NormalizeDomain's form).
-- redirect_status 0: the edge's default; '' redirects: not set.
CREATE TABLE domain_mirror (
	domain             text    PRIMARY KEY CHECK (domain <> ''),
	workspace_id       bigint  NOT NULL,
	verified           boolean NOT NULL,
	root_redirect      text    NOT NULL DEFAULT '',
	not_found_redirect text    NOT NULL DEFAULT '',
	redirect_status    integer NOT NULL DEFAULT 0
);

-- domain_mirror_state: one row; generation grows by one with every change
-- of the rows, which is what edges poll; digest is the hash of the rows,
-- so that an unchanged Replace writes nothing.
CREATE TABLE domain_mirror_state (
	id         integer     PRIMARY KEY CHECK (id = 1),
	generation bigint      NOT NULL,
	digest     text        NOT NULL,
	updated_at timestamptz NOT NULL
);
