package kafkatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupPartitions asks the broker at addr how the consumer group's
// members share topic's partitions: one entry per member, the number of
// partitions it holds. A group that is rebalancing answers nil, as does
// one without members. opts add to the client's options (TLS, SASL);
// none means plaintext.
func GroupPartitions(ctx context.Context, addr, group, topic string, opts ...kgo.Opt) ([]int, error) {
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(addr), kgo.DisableClientMetrics())...)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: client: %w", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: describe group %s: %w", group, err)
	}
	if len(resp.Groups) != 1 {
		return nil, fmt.Errorf("kafkatest: describe group %s: %d groups in the answer", group, len(resp.Groups))
	}
	g := resp.Groups[0]
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		return nil, fmt.Errorf("kafkatest: describe group %s: %w", group, err)
	}
	if g.State != "Stable" {
		return nil, nil
	}
	var out []int
	for _, m := range g.Members {
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(m.MemberAssignment); err != nil {
			return nil, fmt.Errorf("kafkatest: group %s member %s: assignment: %w", group, m.MemberID, err)
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

// EndOffsets returns the high watermark (the next offset to be written)
// of every partition of topic at addr.
func EndOffsets(ctx context.Context, addr, topic string) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DisableClientMetrics())
	if err != nil {
		return nil, fmt.Errorf("kafkatest: client: %w", err)
	}
	defer cl.Close()
	meta := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, rt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: metadata of %s: %w", topic, err)
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, t := range mresp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("kafkatest: metadata of %s: %w", topic, err)
		}
		for _, p := range t.Partitions {
			lp := kmsg.NewListOffsetsRequestTopicPartition()
			lp.Partition = p.Partition
			lp.Timestamp = -1 // the end
			lt.Partitions = append(lt.Partitions, lp)
		}
	}
	req.Topics = append(req.Topics, lt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: list offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("kafkatest: end offset of %s/%d: %w", topic, p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out, nil
}

// ConsumeUntil reads topic at addr from the start of each partition up to
// the end offsets ends (EndOffsets taken when producing stopped) and
// returns the records: the ground truth of what was produced.
func ConsumeUntil(tb testing.TB, addr, topic string, ends map[int32]int64) []*kgo.Record {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(tb.Context(), 2*WaitTimeout)
	defer cancel()
	want := 0
	for _, end := range ends {
		want += int(end)
	}
	next := map[int32]int64{}
	var recs []*kgo.Record
	done := func() bool {
		for p, end := range ends {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			tb.Fatalf("kafkatest: read %d records of %s up to %v, positions %v: %v", len(recs), topic, ends, next, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { tb.Fatalf("kafkatest: fetch %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				recs = append(recs, r)
			}
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
		})
	}
	if len(recs) != want {
		// Offsets without records (a transaction's markers, compaction):
		// not expected on the clicks topic.
		tb.Logf("kafkatest: %d records of %s below end offsets summing to %d", len(recs), topic, want)
	}
	return recs
}
