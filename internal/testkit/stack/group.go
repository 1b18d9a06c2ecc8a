package stack

import (
	"context"

	"github.com/shortify/shortify/internal/testkit/kafkatest"
)

// StatsGroup is the consumer group the stats instances share
// (stats.Caddyfile).
const StatsGroup = "shortify-stats"

// GroupPartitions asks the broker how the consumer group's members share
// topic's partitions: one entry per member, the number of partitions it
// holds. A group between rebalances answers no members.
func (s *Stack) GroupPartitions(ctx context.Context, group, topic string) ([]int, error) {
	opts, err := s.kafka.adminOpts()
	if err != nil {
		return nil, err
	}
	return kafkatest.GroupPartitions(ctx, s.KafkaAddr, group, topic, opts...)
}
