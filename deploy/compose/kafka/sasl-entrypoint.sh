#!/bin/bash
# Entrypoint of the Kafka brokers: writes the broker's JAAS file from the
# environment, so that no password sits in a file of the repository, then
# runs the image's own start script.
#
# Listeners (compose.yaml): CLIENT :9092 takes SCRAM-SHA-512 (the users
# controlplane, edge and stats, each with its ACLs: kafka-topics job);
# INTERNAL :9094 (between brokers, and the admin tools) and CONTROLLER
# :9093 take PLAIN as the superuser admin only. No listener lets anyone in
# without a password. (No TLS: the compose network is one host's bridge;
# docs/security.md says how to add it.)
set -euo pipefail
: "${SHORTIFY_KAFKA_ADMIN_PASSWORD:?set SHORTIFY_KAFKA_ADMIN_PASSWORD (head -c 32 /dev/urandom | base64)}"

umask 077
cat >/tmp/kafka_server_jaas.conf <<JAAS
KafkaServer {
	org.apache.kafka.common.security.scram.ScramLoginModule required;
	org.apache.kafka.common.security.plain.PlainLoginModule required
		username="admin" password="${SHORTIFY_KAFKA_ADMIN_PASSWORD}"
		user_admin="${SHORTIFY_KAFKA_ADMIN_PASSWORD}";
};
JAAS
# The admin tools' client settings (health check, kafka-topics job).
cat >/tmp/admin.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${SHORTIFY_KAFKA_ADMIN_PASSWORD}";
PROPS
export KAFKA_OPTS="${KAFKA_OPTS:-} -Djava.security.auth.login.config=/tmp/kafka_server_jaas.conf"
exec /etc/kafka/docker/run "$@"
