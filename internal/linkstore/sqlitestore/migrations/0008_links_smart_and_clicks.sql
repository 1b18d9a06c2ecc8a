-- Smart links (issue 16; see pgstore's 0008): smart holds a link's
-- click-time options as JSON text, NULL for a plain link; link_clicks the
-- exact click counter of limited links, keyed by the link's ID. Adding a
-- nullable column without a default is a change of the schema text only
-- (no rewrite of the file).
ALTER TABLE links ADD COLUMN smart TEXT;

CREATE TABLE link_clicks (
	link_id INTEGER PRIMARY KEY,
	used    INTEGER NOT NULL CHECK (used >= 0)
);
