package controlplane

import (
	"context"
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestAnonLimiterRefund: a create given back is available again, through
// Redis when the node has it and through the local limiter while Redis
// fails; a refund never lifts the budget above its size.
func TestAnonLimiterRefund(t *testing.T) {
	for name, addr := range map[string]string{
		"redis":      testenv.RedisAddr(t),
		"redis down": testenv.FreeAddr(t), // nothing listens: the local fallback
	} {
		t.Run(name, func(t *testing.T) {
			client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
			t.Cleanup(func() { client.Close() })
			a, err := newClientLimiter("anonymous-create", 2, &service{redis: client}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			ctx := context.Background()
			key := "anon-create:" + testenv.UniquePrefix(t)
			allow := func() bool {
				t.Helper()
				ok, _, err := a.Allow(ctx, key)
				if err != nil {
					t.Fatalf("Allow: %v", err)
				}
				return ok
			}
			if !allow() || !allow() || allow() {
				t.Fatal("want two creates a minute, then a refusal")
			}
			if err := a.Refund(ctx, key); err != nil {
				t.Fatalf("Refund: %v", err)
			}
			if !allow() {
				t.Fatal("the create given back is not available")
			}
			if allow() {
				t.Fatal("one refund gave back more than one create")
			}
			for range 5 {
				if err := a.Refund(ctx, key); err != nil {
					t.Fatalf("Refund: %v", err)
				}
			}
			if !allow() || !allow() || allow() {
				t.Fatal("refunds lifted the budget above two")
			}
		})
	}
}
