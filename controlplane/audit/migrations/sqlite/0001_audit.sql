-- The audit log, unpartitioned: the retention deletes old rows. Times are
-- Unix microseconds. AUTOINCREMENT: an ID is never handed out again after
-- the retention deleted its row, so a page cursor never goes stale.
CREATE TABLE IF NOT EXISTS audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    key_id    TEXT    NOT NULL,
    method    TEXT    NOT NULL,
    route     TEXT    NOT NULL,
    target    TEXT    NOT NULL DEFAULT '',
    client_ip TEXT    NOT NULL DEFAULT '',
    status    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_key ON audit_log (key_id, id);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target, id);

CREATE TABLE IF NOT EXISTS abuse_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  INTEGER NOT NULL,
    code        TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    details     TEXT    NOT NULL DEFAULT '',
    contact     TEXT    NOT NULL DEFAULT '',
    client_ip   TEXT    NOT NULL DEFAULT '',
    resolved_at INTEGER,
    resolved_by TEXT    NOT NULL DEFAULT '',
    resolution  TEXT    NOT NULL DEFAULT '',
    note        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS abuse_reports_open ON abuse_reports (id) WHERE resolved_at IS NULL;
