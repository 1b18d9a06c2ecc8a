-- Organizing links (issue 17): a title, tags and notes per link, a tag
-- filter and a search over code, target, title and tags.
--
-- An EXPAND step only: three nullable columns without defaults (catalogue
-- changes, no rewrite), which nodes of the previous release neither name
-- nor read; NULL is "none" for each.
--
-- tags are text[] as the owner spelled them (linkstore.CleanTags). The
-- tag filter and the tags routes compare tags ignoring case, so the GIN
-- index is on the case-folded array, through shortify_lower_tags: an
-- index expression must be IMMUTABLE.
--
-- The search is a substring match ignoring ASCII case (LIKE '%term%') on
-- shortify_search_text: code, url, title and tags, case-folded, joined by
-- newlines (which no tag holds). A trigram GIN index
-- (pg_trgm, a trusted extension since PostgreSQL 13) answers it for terms
-- of three characters or more; shorter ones read the (id) index
-- backwards with the filter, which finds a page at once for a common
-- term.
--
-- Building the indexes reads the table under a SHARE lock (writes wait):
-- on a large installation, build them beforehand without blocking writes
-- (CREATE INDEX ... ON ONLY links, CREATE INDEX CONCURRENTLY on each
-- partition, ALTER INDEX ... ATTACH PARTITION), as for 0002.
-- The extension goes to the schema public, once per database, and the
-- index names its operator class there: a store in another schema (the
-- tests' schemas, whose search_path is that schema alone) finds it too.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

ALTER TABLE links ADD COLUMN title text;
ALTER TABLE links ADD COLUMN tags text[];
ALTER TABLE links ADD COLUMN notes text;

-- Case is folded with translate() on ASCII letters alone, which is
-- linkstore.FoldASCII whatever the database's locale (lower() folds
-- non-ASCII letters under some locales and not under C), so that Go,
-- SQLite and every PostgreSQL agree on what a search or a tag filter
-- matches. The functions call no function of their own schema: a
-- function body resolves names by the caller's search_path.
-- Tags hold no control characters (linkstore.ValidateTag), so a newline
-- separates them safely.
CREATE FUNCTION shortify_lower_tags(tags text[]) RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
	AS $$ SELECT string_to_array(translate(array_to_string(tags, E'\n'), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), E'\n') $$;

CREATE FUNCTION shortify_search_text(code text, url text, title text, tags text[]) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT translate(code || E'\n' || url || E'\n' || coalesce(title, '') || E'\n' || coalesce(array_to_string(tags, E'\n'), ''), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

CREATE INDEX links_tags_idx ON links USING gin (shortify_lower_tags(tags)) WHERE tags IS NOT NULL;
CREATE INDEX links_search_idx ON links USING gin (shortify_search_text(code, url, title, tags) public.gin_trgm_ops);
