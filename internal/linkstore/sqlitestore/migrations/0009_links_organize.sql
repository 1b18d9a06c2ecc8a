-- Organizing links (issue 17; see pgstore's 0009): title, tags and notes,
-- NULL for none. tags holds the tags joined by newlines (which no tag
-- holds, linkstore.ValidateTag), so that the tag filter matches
-- char(10) || tag || char(10) in char(10) || tags || char(10), and the
-- search reads the tags as text. Nullable columns without defaults: a
-- change of the schema text only.
--
-- No index serves the tag filter or the search: both scan the workspace's
-- live links (the embedded store holds one installation's links, not
-- millions); FTS5 would index whole tokens, not substrings, and the
-- search here matches substrings as PostgreSQL's trigram search does.
ALTER TABLE links ADD COLUMN title TEXT;
ALTER TABLE links ADD COLUMN tags TEXT;
ALTER TABLE links ADD COLUMN notes TEXT;
