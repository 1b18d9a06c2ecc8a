package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/caddymodule/internal/flatcache"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/backend"
)

// pool holds the resources that outlive config reloads. A reload provisions
// the new handlers before it cleans up the old ones, so a resource whose
// settings did not change is found here (LoadOrNew) and kept, with its warm
// L1 and open connections; one whose settings changed is built anew, and
// the old one is destroyed when its last handler is cleaned up.
//
// Each resource has its own key, the hash of exactly the settings that
// determine it, so that changing cache_ttl rebuilds the L1 but keeps the
// database pool:
//
//	store: database, read_replicas
//	redis: redis
//	l1:    the store and redis keys, redis_prefix, cache_size, cache_ttl, cache_admission,
//	       max_ttl, negative_ttl (what the cached values and their lifetimes
//	       depend on)
//	domains: database, domain_refresh (the custom-domain watcher, domains.go;
//	       the block set's watcher likewise, blocked.go)
//
// The settings are hashed because they hold credentials.
var pool = caddy.NewUsagePool()

// resources are what one handler uses from the pool.
type resources struct {
	store *lazyStore
	redis redis.UniversalClient // nil without Redis
	// counterRedis is the click-limit counter's client to the same Redis,
	// with l2cache.CounterTimeouts: a claim waits rather than failing a
	// click the way a cache read may (nil without Redis).
	counterRedis redis.UniversalClient
	l1           *flatcache.Cache[entry]
	l1Key        string
}

// acquire loads or builds the handler's resources, recording in h.keys each
// key it holds, so that Cleanup releases exactly those (also after a failure
// half-way).
func (h *Handler) acquire() (*resources, error) {
	res := new(resources)
	hooks := h.hookKey()

	storeKey := "shortify/store/" + hashKey(h.Database, h.ReadReplicas, hooks)
	v, err := h.loadOrNew(storeKey, func() (caddy.Destructor, error) {
		open := h.openStore
		if open == nil {
			open = backend.Open
		}
		return newLazyStore(linkstore.Config{DSN: h.Database, ReadDSNs: h.ReadReplicas}, open), nil
	})
	if err != nil {
		return nil, err
	}
	res.store = v.(*lazyStore)

	redisKey := ""
	if h.Redis != "" {
		redisKey = "shortify/redis/" + hashKey(h.Redis)
		v, err := h.loadOrNew(redisKey, func() (caddy.Destructor, error) {
			c, err := l2cache.NewClient(h.Redis)
			if err != nil {
				return nil, err
			}
			return redisClient{c}, nil
		})
		if err != nil {
			return nil, err
		}
		res.redis = v.(redisClient).UniversalClient
		v, err = h.loadOrNew("shortify/redis-counter/"+hashKey(h.Redis), func() (caddy.Destructor, error) {
			c, err := l2cache.NewClientWith(h.Redis, l2cache.CounterTimeouts)
			if err != nil {
				return nil, err
			}
			return redisClient{c}, nil
		})
		if err != nil {
			return nil, err
		}
		res.counterRedis = v.(redisClient).UniversalClient
	}

	l1Key := "shortify/l1/" + hashKey(storeKey, redisKey, h.RedisPrefix, h.CacheSize,
		h.CacheTTL, h.MaxTTL, h.NegativeTTL, h.CacheAdmissionOff, hooks)
	v, err = h.loadOrNew(l1Key, func() (caddy.Destructor, error) {
		return l1Cache{h.newL1()}, nil
	})
	if err != nil {
		return nil, err
	}
	res.l1 = v.(l1Cache).Cache
	res.l1Key = l1Key // the warm start's pool key (warm.go)
	return res, nil
}

// loadOrNew is pool.LoadOrNew that remembers the key when it is held.
// A failed LoadOrNew holds nothing: the pool drops a failed entry.
func (h *Handler) loadOrNew(key string, construct caddy.Constructor) (any, error) {
	v, _, err := pool.LoadOrNew(key, construct)
	if err != nil {
		return nil, err
	}
	h.keys = append(h.keys, key)
	return v, nil
}

// release gives back every key h holds; it is safe to call more than once.
func (h *Handler) release() error {
	var errs []error
	for _, k := range h.keys {
		if _, err := pool.Delete(k); err != nil {
			errs = append(errs, err)
		}
	}
	h.keys = nil
	return errors.Join(errs...)
}

// hookKey is the part of the pool keys that tests contribute (their clock
// and keySalt), so that resources built with test hooks are never shared
// with other tests: empty in production.
func (h *Handler) hookKey() string {
	if h.clock == nil && h.openStore == nil && h.keySalt == "" {
		return ""
	}
	return fmt.Sprintf("hooks:%p:%s", h.clock, h.keySalt)
}

func hashKey(parts ...any) string {
	b, err := json.Marshal(parts)
	if err != nil {
		panic(err) // only strings, ints and durations: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// newL1 builds the L1 cache: pointer-free (package flatcache), so that a
// million entries cost the garbage collector nothing; otter's nodes cost
// it a traced object each (docs/decisions/0001-pointer-free-l1.md).
func (h *Handler) newL1() *flatcache.Cache[entry] {
	x := newL1Expiry(time.Duration(h.CacheTTL), time.Duration(h.MaxTTL), time.Duration(h.NegativeTTL))
	cfg := flatcache.Config[entry]{MaxEntries: h.CacheSize, Lifetime: x.Lifetime, Admission: !h.CacheAdmissionOff}
	if x.adaptive() {
		cfg.Extend = x.Extend
	}
	if h.clock != nil { // not h.nowNano: the L1 may outlive h
		cfg.Clock = h.clock
	}
	return flatcache.New(cfg)
}

// l1Cache makes the L1 a caddy.Destructor.
type l1Cache struct{ *flatcache.Cache[entry] }

// Destruct drops the cache's entries and their memory.
func (c l1Cache) Destruct() error {
	c.Clear()
	return nil
}

// redisClient makes a Redis client a caddy.Destructor.
type redisClient struct{ redis.UniversalClient }

// Destruct closes the client's connections.
func (c redisClient) Destruct() error { return c.Close() }
