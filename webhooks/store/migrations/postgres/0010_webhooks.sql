-- Outgoing webhooks (issue 17): a workspace's endpoints and the deliveries
-- made to them. Numbered in Shortify's one sequence of migrations, recorded
-- in webhook_schema_migrations. New tables only: nothing else changes, so
-- nodes of the release before keep working beside it.
CREATE TABLE webhook_endpoints (
	id              text        PRIMARY KEY,
	workspace       bigint      NOT NULL,
	url             text        NOT NULL,
	-- events: the subscribed events, comma-separated (link.created,...).
	events          text        NOT NULL,
	secret          text        NOT NULL,
	description     text        NOT NULL DEFAULT '',
	disabled        boolean     NOT NULL DEFAULT false,
	disabled_reason text        NOT NULL DEFAULT '',
	disabled_at     timestamptz,
	failing_since   timestamptz,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace, created_at, id);

-- seq orders the log (newest first) and is the cursor's position; a
-- delivery's ID is unique per endpoint (the deliverer derives it from
-- what it carries).
CREATE TABLE webhook_deliveries (
	seq          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	endpoint     text        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	id           text        NOT NULL,
	workspace    bigint      NOT NULL,
	event        text        NOT NULL,
	payload      bytea       NOT NULL,
	created_at   timestamptz NOT NULL,
	state        text        NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts     integer     NOT NULL DEFAULT 0,
	next_attempt timestamptz NOT NULL,
	last_status  integer     NOT NULL DEFAULT 0,
	last_error   text        NOT NULL DEFAULT '',
	last_attempt timestamptz,
	UNIQUE (endpoint, id)
);
-- The deliverer's Claim: the due pending deliveries.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt) WHERE state = 'pending';
-- The log of one endpoint, newest first, by state or not.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint, seq);
CREATE INDEX webhook_deliveries_log_state ON webhook_deliveries (endpoint, state, seq);
