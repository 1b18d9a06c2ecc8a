-- The search's index (issue 17: q over code, URL, title and tags; see
-- pgstore's pg_trgm index): an FTS5 table with the trigram tokenizer, so
-- that a phrase of 3 or more characters matches substrings, not whole
-- words, ignoring case (0009's note that FTS5 indexes whole tokens was
-- of its default tokenizers; SQLite 3.34 added trigram).
--
-- External content (content='links', content_rowid='id') rather than
-- contentless: the text stays in links alone (no second copy), 'rebuild'
-- below fills the index from links for the rows stored before, and
-- 'integrity-check' can compare the two. links is WITHOUT ROWID, so id
-- stands in for the rowid: a Snowflake ID, unique per link (the list's
-- cursor takes it so too), though no constraint says so; two links with
-- one ID would share postings, and deleting one would drop the other's.
-- The triggers keep the index
-- in step: a delete removes the old values (which the index needs given
-- back exactly, and they are what the insert or the last update gave
-- it), an update of an indexed column removes the old and adds the new.
-- The columns are indexed apart (no concatenation); a term with a
-- newline, which could span two of them in the
-- newline-joined text that instr() searches, is not looked up here
-- (sqlitestore's List scans for it).
--
-- The trigram tokenizer folds Unicode case and the search folds ASCII
-- case only, so a MATCH finds a superset: List keeps its instr() test on
-- the candidates, and the results stay the same as the scan's.
CREATE VIRTUAL TABLE links_fts USING fts5(
	code, url, title, tags,
	content = 'links', content_rowid = 'id', tokenize = 'trigram'
);

CREATE TRIGGER links_fts_insert AFTER INSERT ON links BEGIN
	INSERT INTO links_fts (rowid, code, url, title, tags) VALUES (new.id, new.code, new.url, new.title, new.tags);
END;

CREATE TRIGGER links_fts_delete AFTER DELETE ON links BEGIN
	INSERT INTO links_fts (links_fts, rowid, code, url, title, tags) VALUES ('delete', old.id, old.code, old.url, old.title, old.tags);
END;

CREATE TRIGGER links_fts_update AFTER UPDATE OF id, code, url, title, tags ON links BEGIN
	INSERT INTO links_fts (links_fts, rowid, code, url, title, tags) VALUES ('delete', old.id, old.code, old.url, old.title, old.tags);
	INSERT INTO links_fts (rowid, code, url, title, tags) VALUES (new.id, new.code, new.url, new.title, new.tags);
END;

INSERT INTO links_fts (links_fts) VALUES ('rebuild');
