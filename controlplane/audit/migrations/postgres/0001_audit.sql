-- The audit log: one row per API write, partitioned by month on "at" (the
-- leader's upkeep creates the months ahead and drops those past
-- audit_retention). The primary key holds the partition key, as
-- PostgreSQL requires; id alone orders the pages.
CREATE TABLE IF NOT EXISTS audit_log (
    id        bigserial   NOT NULL,
    at        timestamptz NOT NULL,
    key_id    text        NOT NULL,
    method    text        NOT NULL,
    route     text        NOT NULL,
    target    text        NOT NULL DEFAULT '',
    client_ip text        NOT NULL DEFAULT '',
    status    integer     NOT NULL,
    PRIMARY KEY (at, id)
) PARTITION BY RANGE (at);
CREATE INDEX IF NOT EXISTS audit_log_id ON audit_log (id);
CREATE INDEX IF NOT EXISTS audit_log_key ON audit_log (key_id, id);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target, id);

-- Abuse reports sent through POST /api/v1/reports.
CREATE TABLE IF NOT EXISTS abuse_reports (
    id          bigserial   PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    code        text        NOT NULL,
    url         text        NOT NULL,
    reason      text        NOT NULL,
    details     text        NOT NULL DEFAULT '',
    contact     text        NOT NULL DEFAULT '',
    client_ip   text        NOT NULL DEFAULT '',
    resolved_at timestamptz,
    resolved_by text        NOT NULL DEFAULT '',
    resolution  text        NOT NULL DEFAULT '',
    note        text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS abuse_reports_open ON abuse_reports (id) WHERE resolved_at IS NULL;
