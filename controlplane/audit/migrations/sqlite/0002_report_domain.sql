-- The reported link's domain, as on PostgreSQL (see
-- migrations/postgres/0002_report_domain.sql).
ALTER TABLE abuse_reports ADD COLUMN domain TEXT NOT NULL DEFAULT '';
