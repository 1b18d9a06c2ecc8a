-- dims: the clicks per value of every dimension of the row (referrer,
-- country, device, browser, os, status), one compact encoded map in the
-- row itself (the format of stats/aggregate's DimCounts), merged by the
-- stats service like the visitors sketch. One row per (bucket, link,
-- human/bot) is written per batch instead of one per dimension value: the
-- ingest's writes scale with the link-buckets a batch touches, not with
-- its events. NULL for rows written before this column existed; their
-- dimension counts stay in the *_dims tables, which the stats API still
-- reads (and which the ingest no longer writes).
ALTER TABLE clicks_hourly ADD COLUMN dims bytea NULL;
ALTER TABLE clicks_daily ADD COLUMN dims bytea NULL;
