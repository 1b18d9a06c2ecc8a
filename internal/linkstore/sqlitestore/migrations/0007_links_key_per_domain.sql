-- The CONTRACT step of the rolling upgrade to workspaces and custom
-- domains (see pgstore's 0007 and docs/decisions/0004-workspace-links.md):
-- links_code_key (code) goes, and the primary key (code, domain) is the
-- table's only key, so that a custom alias is unique per domain. SQLite
-- has no rolling upgrade of its own; both stores behave the same.
DROP INDEX links_code_key;
