-- stats_offsets: the next offset to consume of each topic partition, per
-- consumer group. The stats service writes it in the same transaction as
-- the aggregates of the records before that offset, so the aggregates and
-- the position in the topic never disagree: this table, not the group's
-- commits in Kafka, decides where a consumer resumes.
CREATE TABLE stats_offsets (
	consumer_group text        NOT NULL,
	topic          text        NOT NULL,
	partition      integer     NOT NULL,
	next_offset    bigint      NOT NULL,
	updated_at     timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT stats_offsets_pkey PRIMARY KEY (consumer_group, topic, partition),
	CONSTRAINT stats_offsets_partition CHECK (partition >= 0),
	CONSTRAINT stats_offsets_next_offset CHECK (next_offset >= 0)
);
