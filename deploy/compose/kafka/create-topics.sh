#!/bin/bash
# One-shot job: creates Shortify's topics with their partition counts,
# replication factor 3 and min.insync.replicas 2 (producers use acks=all,
# so a write survives the loss of one broker). Idempotent.
#
#   clicks                 click events from the edges, read by the stats
#                          consumer group; keyed by short code
#   shortify.link-events   link updates and deletions from the control
#                          plane, read by every edge and by stats
#
# Partition counts: see docs/operations.md ("Kafka partitions").
set -euo pipefail

BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka-1:9092,kafka-2:9092,kafka-3:9092}"
TOPICS=/opt/kafka/bin/kafka-topics.sh

until "$TOPICS" --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1; do
	echo "waiting for Kafka at $BOOTSTRAP"
	sleep 2
done

create() { # name partitions retention.ms
	"$TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
		--topic "$1" --partitions "$2" --replication-factor 3 \
		--config min.insync.replicas=2 --config retention.ms="$3" \
		--config compression.type=producer
}

create clicks "${CLICKS_PARTITIONS:-48}" 259200000                   # 3 days
create shortify.link-events "${LINK_EVENTS_PARTITIONS:-12}" 604800000 # 7 days

"$TOPICS" --bootstrap-server "$BOOTSTRAP" --describe --topic '^(clicks|shortify[.]link-events)$'
