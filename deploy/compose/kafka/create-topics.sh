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
#
# Then the SCRAM-SHA-512 users of the Shortify roles and their ACLs: only
# the control plane may write link events (docs/security.md, "Kafka").
#
#   controlplane  writes shortify.link-events; reads both in the group
#                 shortify-webhooks (the webhooks deliverer)
#   edge          writes clicks, reads shortify.link-events (no group)
#   stats         reads both, in the group shortify-stats
#
# It logs in as the superuser admin on the brokers' INTERNAL listener
# (:9094, PLAIN). Re-running it resets the passwords to the variables'.
set -euo pipefail
: "${SHORTIFY_KAFKA_ADMIN_PASSWORD:?}" "${SHORTIFY_KAFKA_CONTROLPLANE_PASSWORD:?}" \
	"${SHORTIFY_KAFKA_EDGE_PASSWORD:?}" "${SHORTIFY_KAFKA_STATS_PASSWORD:?}"

BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka-1:9094,kafka-2:9094,kafka-3:9094}"
BIN=/opt/kafka/bin
TOPICS=$BIN/kafka-topics.sh
ADMIN=/tmp/admin.properties
umask 077
cat >"$ADMIN" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${SHORTIFY_KAFKA_ADMIN_PASSWORD}";
PROPS

until "$TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN" --list >/dev/null 2>&1; do
	echo "waiting for Kafka at $BOOTSTRAP"
	sleep 2
done

create() { # name partitions retention.ms
	"$TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN" --create --if-not-exists \
		--topic "$1" --partitions "$2" --replication-factor 3 \
		--config min.insync.replicas=2 --config retention.ms="$3" \
		--config compression.type=producer
}

create clicks "${CLICKS_PARTITIONS:-48}" 259200000                   # 3 days
create shortify.link-events "${LINK_EVENTS_PARTITIONS:-12}" 604800000 # 7 days

"$TOPICS" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN" --describe --topic '^(clicks|shortify[.]link-events)$'

user() { # name password
	"$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN" --alter \
		--entity-type users --entity-name "$1" --add-config "SCRAM-SHA-512=[password=$2]"
}
allow() { # user operation resource-options...
	local u=$1 op=$2
	shift 2
	"$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN" --add \
		--allow-principal "User:$u" --operation "$op" "$@"
}

user controlplane "$SHORTIFY_KAFKA_CONTROLPLANE_PASSWORD"
user edge "$SHORTIFY_KAFKA_EDGE_PASSWORD"
user stats "$SHORTIFY_KAFKA_STATS_PASSWORD"

allow controlplane Write --topic shortify.link-events
allow controlplane Read --topic clicks
allow controlplane Read --topic shortify.link-events
allow controlplane Read --group shortify-webhooks
allow edge Write --topic clicks
allow edge Read --topic shortify.link-events
allow stats Read --topic clicks
allow stats Read --topic shortify.link-events
allow stats Read --group shortify-stats
