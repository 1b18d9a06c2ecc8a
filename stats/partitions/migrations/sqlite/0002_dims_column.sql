-- dims: see migrations/postgres/0002_dims_column.sql.
ALTER TABLE clicks_hourly ADD COLUMN dims BLOB;
ALTER TABLE clicks_daily ADD COLUMN dims BLOB;
