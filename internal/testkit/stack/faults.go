package stack

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/testkit/procs"
)

// Faults of the engines, for the fault tests of issue 18
// (e2e/faults/data): the PostgreSQL primary stopped and started again on
// its data directory, the replica held behind, a Redis Cluster master
// killed. The Shortify processes are left alone: they must ride these
// out without a restart.

// StopPrimary shuts the PostgreSQL primary down (a fast shutdown, as
// `pg_ctl stop -m fast`: sessions are ended, nothing committed is lost)
// and waits until it has exited. StartPrimary brings it back.
func (s *Stack) StopPrimary() error {
	if err := s.Primary.Stop(); err != nil {
		return fmt.Errorf("stop the PostgreSQL primary: %w", err)
	}
	return nil
}

// StartPrimary starts the primary again on its data directory and
// address after StopPrimary, and returns once it accepts connections;
// s.Primary is the new process from then on. The replica reconnects on
// its own (WaitReplicaStreaming).
func (s *Stack) StartPrimary(ctx context.Context) error {
	bin, err := procs.PGBinDir("")
	if err != nil {
		return err
	}
	p, err := s.Primary.Restart(ctx, bin)
	if err != nil {
		return fmt.Errorf("start the PostgreSQL primary again: %w", err)
	}
	s.Primary = p
	return nil
}

// WaitReplicaStreaming waits until the replica's WAL receiver streams
// from the primary again.
func (s *Stack) WaitReplicaStreaming(ctx context.Context) error {
	return procs.Poll(ctx, "the replica to stream again", 100*time.Millisecond, s.Replica.Process, func(ctx context.Context) error {
		var streaming bool
		err := s.Replica.Query(ctx, "SELECT EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')", &streaming)
		if err == nil && !streaming {
			err = errors.New("WAL receiver not streaming")
		}
		return err
	})
}

// DelayReplica makes the replica apply each transaction d after the
// primary committed it (recovery_min_apply_delay, set with ALTER SYSTEM
// and a reload: no restart), so that it serves reads d behind; d = 0
// takes the delay away again. WAL still streams at once; only replay
// waits.
func (s *Stack) DelayReplica(ctx context.Context, d time.Duration) error {
	stmt := "ALTER SYSTEM RESET recovery_min_apply_delay"
	if d > 0 {
		stmt = "ALTER SYSTEM SET recovery_min_apply_delay = '" + strconv.FormatInt(d.Milliseconds(), 10) + "ms'"
	}
	for _, q := range []string{stmt, "SELECT pg_reload_conf()"} {
		if err := s.Replica.Query(ctx, q); err != nil {
			return fmt.Errorf("replica: %s: %w", q, err)
		}
	}
	want := "0"
	if d > 0 {
		want = strconv.FormatInt(d.Milliseconds(), 10)
	}
	return procs.Poll(ctx, "the replica to take recovery_min_apply_delay "+want+" ms", 50*time.Millisecond, s.Replica.Process, func(ctx context.Context) error {
		var got string
		if err := s.Replica.Query(ctx, "SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'", &got); err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("recovery_min_apply_delay is %s ms", got)
		}
		return nil
	})
}

// RedisMasterOf returns the index in s.Redis.Servers of the Redis
// Cluster master that holds key's slot.
func (s *Stack) RedisMasterOf(ctx context.Context, key string) (int, error) {
	for i, srv := range s.Redis.Servers {
		if exited, _ := srv.Exited(); exited {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
		defer cl.Close()
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			return 0, fmt.Errorf("CLUSTER KEYSLOT on %s: %w", srv.Addr, err)
		}
		master, err := masterOfSlot(ctx, cl, slot)
		if err != nil {
			return 0, err
		}
		for j, a := range s.Redis.Addrs {
			if a == master {
				return j, nil
			}
		}
		return 0, fmt.Errorf("slot %d's master %s is not a node of the stack (node %d asked)", slot, master, i)
	}
	return 0, errors.New("no Redis node is running")
}

// masterOfSlot asks the node behind cl which master serves slot.
func masterOfSlot(ctx context.Context, cl *redis.Client, slot int64) (string, error) {
	ranges, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return "", fmt.Errorf("CLUSTER SLOTS: %w", err)
	}
	for _, r := range ranges {
		if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
			return r.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("slot %d has no master", slot)
}

// WaitRedisFailover waits until the Redis Cluster serves key's slot
// again from a running master, as every running node sees it, with
// cluster_state ok: after a master was killed, its replica has taken
// over. It returns the new master's index in s.Redis.Servers.
func (s *Stack) WaitRedisFailover(ctx context.Context, key string) (int, error) {
	var master int
	err := pollCtx(ctx, "a Redis master for "+key+" again", func(ctx context.Context) error {
		seen := ""
		for _, srv := range s.Redis.Servers {
			if exited, _ := srv.Exited(); exited {
				continue
			}
			cl := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
			err := func() error {
				defer cl.Close()
				info, err := cl.ClusterInfo(ctx).Result()
				if err != nil {
					return err
				}
				if !strings.Contains(info, "cluster_state:ok") {
					return fmt.Errorf("%s: cluster state not ok", srv.Addr)
				}
				slot, err := cl.ClusterKeySlot(ctx, key).Result()
				if err != nil {
					return err
				}
				m, err := masterOfSlot(ctx, cl, slot)
				if err != nil {
					return err
				}
				if seen != "" && m != seen {
					return fmt.Errorf("nodes disagree on the master: %s, %s", seen, m)
				}
				seen = m
				return nil
			}()
			if err != nil {
				return err
			}
		}
		for j, a := range s.Redis.Addrs {
			if a == seen {
				if exited, _ := s.Redis.Servers[j].Exited(); exited {
					return fmt.Errorf("the master %s has exited", a)
				}
				master = j
				return nil
			}
		}
		return fmt.Errorf("master %q is not a node of the stack", seen)
	})
	return master, err
}
