package testenv

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The cluster has three masters that share the slots, each with a replica,
// and keys of every slot can be written and read through a cluster client.
func TestStartRedisCluster(t *testing.T) {
	t.Parallel()
	c := StartRedisCluster(t)
	if len(c.Addrs) != 6 {
		t.Fatalf("%d nodes, want 6", len(c.Addrs))
	}
	ctx := context.Background()
	cl := c.Client(t)
	shards, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 3 {
		t.Fatalf("%d shards, want 3", len(shards))
	}
	slots := 0
	for _, sh := range shards {
		if len(sh.Nodes) != 2 {
			t.Errorf("shard %v has %d nodes, want a master and a replica", sh.Slots, len(sh.Nodes))
		}
		for _, r := range sh.Slots {
			slots += int(r.End - r.Start + 1)
		}
	}
	if slots != 16384 {
		t.Fatalf("the masters serve %d slots, want 16384", slots)
	}

	masters := make(map[string]bool)
	for i := range 100 {
		k := "k" + strconv.Itoa(i)
		if err := cl.Set(ctx, k, i, time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if v, err := cl.Get(ctx, k).Int(); err != nil || v != i {
			t.Fatalf("GET %s: %d %v", k, v, err)
		}
		m, err := cl.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
	}
	if len(masters) != 3 {
		t.Fatalf("100 keys landed on %d masters, want 3", len(masters))
	}
}

// Stop kills a standalone server: it no longer answers.
func TestStartRedisStop(t *testing.T) {
	t.Parallel()
	s := StartRedis(t)
	cl := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer cl.Close()
	ctx := context.Background()
	if err := cl.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Stop() // a second Stop does nothing
	// Another test's server may take the freed port at once (seen with
	// four packages at once), so ask for the key only this server had.
	if v, err := cl.Get(ctx, "k").Result(); err == nil && v == "v" {
		t.Fatal("the server answers after Stop")
	}
}
