-- Outgoing webhooks (issue 17): a workspace's endpoints and the deliveries
-- made to them, as in postgres/0010_webhooks.sql. Times are Unix
-- microseconds (UTC).
CREATE TABLE webhook_endpoints (
	id              TEXT    NOT NULL PRIMARY KEY,
	workspace       INTEGER NOT NULL,
	url             TEXT    NOT NULL,
	events          TEXT    NOT NULL,
	secret          TEXT    NOT NULL,
	description     TEXT    NOT NULL DEFAULT '',
	disabled        INTEGER NOT NULL DEFAULT 0,
	disabled_reason TEXT    NOT NULL DEFAULT '',
	disabled_at     INTEGER,
	failing_since   INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace, created_at, id);

CREATE TABLE webhook_deliveries (
	seq          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	endpoint     TEXT    NOT NULL, -- DeleteEndpoint deletes its deliveries (no foreign_keys pragma)
	id           TEXT    NOT NULL,
	workspace    INTEGER NOT NULL,
	event        TEXT    NOT NULL,
	payload      BLOB    NOT NULL,
	created_at   INTEGER NOT NULL,
	state        TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	last_status  INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT    NOT NULL DEFAULT '',
	last_attempt INTEGER,
	UNIQUE (endpoint, id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint); -- and seq, the rowid
CREATE INDEX webhook_deliveries_log_state ON webhook_deliveries (endpoint, state, seq);
