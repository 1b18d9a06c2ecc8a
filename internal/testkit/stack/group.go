package stack

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(s.KafkaAddr), kgo.DisableClientMetrics())...)
	if err != nil {
		return nil, fmt.Errorf("Kafka client: %w", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	if len(resp.Groups) != 1 {
		return nil, fmt.Errorf("describe group %s: %d groups in the answer", group, len(resp.Groups))
	}
	g := resp.Groups[0]
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	if g.State != "Stable" {
		return nil, nil
	}
	var out []int
	for _, m := range g.Members {
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(m.MemberAssignment); err != nil {
			return nil, fmt.Errorf("group %s member %s: assignment: %w", group, m.MemberID, err)
		}
		n := 0
		for _, t := range a.Topics {
			if t.Topic == topic {
				n += len(t.Partitions)
			}
		}
		out = append(out, n)
	}
	return out, nil
}
