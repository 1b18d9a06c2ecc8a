package controlplane

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestCreateLimitersShared: two nodes' workspace create limiters on one
// Redis spend one budget per workspace (the limit holds across the
// control plane), separately per workspace; without Redis each node
// limits on its own.
func TestCreateLimitersShared(t *testing.T) {
	tests := []struct {
		name string
		addr string
		// want is what node 2 may create after node 1 spent two of three.
		want int
	}{
		{"redis", testenv.RedisAddr(t), 1},
		{"redis down", testenv.FreeAddr(t), 3}, // nothing listens: the local fallback
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := redis.NewClient(&redis.Options{Addr: tt.addr, MaxRetries: -1, DialerRetries: 1})
			t.Cleanup(func() { client.Close() })
			log := slog.New(slog.DiscardHandler)
			node1, node2 := newCreateLimiters(&service{redis: client}, log), newCreateLimiters(&service{redis: client}, log)
			t.Cleanup(node1.Close)
			t.Cleanup(node2.Close)
			ctx := context.Background()
			ws, other := 1<<40+rand.Int64N(1<<50), 1<<40+rand.Int64N(1<<50)
			const perMinute = 3
			allowed := func(set *api.LimiterSet, n int, ws int64) int {
				t.Helper()
				got := 0
				for range n {
					d, _, err := set.Allow(ctx, ws, perMinute)
					if err != nil {
						t.Fatalf("Allow: %v", err)
					}
					if d.Allowed {
						got++
					}
				}
				return got
			}
			if got := allowed(node1, 2, ws); got != 2 {
				t.Fatalf("node 1 created %d of 2", got)
			}
			if got := allowed(node2, 5, ws); got != tt.want {
				t.Errorf("node 2 created %d after node 1 spent 2 of %d; want %d", got, perMinute, tt.want)
			}
			if got := allowed(node2, 5, other); got != perMinute {
				t.Errorf("another workspace created %d; want its own %d", got, perMinute)
			}
			// A refund on one node is a create more on the other, through
			// Redis.
			if err := node2.Refund(ctx, other, perMinute); err != nil {
				t.Fatal(err)
			}
			if got := allowed(node1, 2, other); tt.want == 1 && got != 1 {
				t.Errorf("after a refund on node 2, node 1 created %d more; want 1", got)
			}
		})
	}
}
