-- Variant of a smart link's click: see migrations/postgres/0005_variant.sql.
ALTER TABLE clicks ADD COLUMN variant TEXT NOT NULL DEFAULT 'url';
