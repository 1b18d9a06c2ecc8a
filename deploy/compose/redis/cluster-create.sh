#!/bin/sh
# One-shot job: makes the six Redis nodes one Redis Cluster of three
# masters with one replica each. Does nothing when the cluster exists.
set -eu

NODES="redis-1 redis-2 redis-3 redis-4 redis-5 redis-6"

for h in $NODES; do
	until redis-cli -h "$h" ping 2>/dev/null | grep -q PONG; do
		echo "waiting for $h"
		sleep 1
	done
done

if redis-cli -h redis-1 cluster info | grep -q '^cluster_state:ok'; then
	echo "the Redis Cluster exists"
	exit 0
fi

# redis-cli --cluster create wants addresses; the nodes announce their
# host names to clients (cluster-announce-hostname).
addrs=""
for h in $NODES; do
	addrs="$addrs $(getent hosts "$h" | awk '{print $1}'):6379"
done
# shellcheck disable=SC2086 # one argument per node
redis-cli --cluster create $addrs --cluster-replicas 1 --cluster-yes

until redis-cli -h redis-1 cluster info | grep -q '^cluster_state:ok'; do
	sleep 1
done
echo "the Redis Cluster is up"
