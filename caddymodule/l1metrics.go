package caddymodule

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/caddymodule/internal/flatcache"
)

// l1Collector reports the L1 caches that a config's handlers use, read at
// scrape time (nothing on the request path):
//
//	shortify_edge_l1_entries          entries (found links and unknown codes)
//	shortify_edge_l1_capacity         the most entries (cache_size)
//	shortify_edge_l1_evictions_total  entries evicted before their time to make room
//	shortify_edge_l1_rejections_total new codes admission kept out of a full L1
//
// Evictions that keep rising while entries sit at capacity say that
// cache_size is smaller than the working set: each eviction is a later
// Redis or database read.
type l1Collector struct {
	mu     sync.Mutex
	caches map[*flatcache.Cache[entry]]int // the handlers using each
}

var (
	descL1Entries = prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "l1_entries"),
		"Entries in the in-process L1 cache (found links and unknown codes, expired ones not yet reused included).", nil, nil)
	descL1Capacity = prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "l1_capacity"),
		"The most entries the L1 cache holds (cache_size).", nil, nil)
	descL1Evictions = prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "l1_evictions_total"),
		"L1 entries evicted before their lifetime ended, to make room for others.", nil, nil)
	descL1Rejections = prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "l1_rejections_total"),
		"New codes that the L1's admission (cache_admission) kept out of a full cache: asked for less often than the entry they would have evicted.", nil, nil)
)

func newL1Collector() *l1Collector {
	return &l1Collector{caches: make(map[*flatcache.Cache[entry]]int)}
}

// add counts one more handler using l1.
func (c *l1Collector) add(l1 *flatcache.Cache[entry]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.caches[l1]++
}

// remove undoes one add.
func (c *l1Collector) remove(l1 *flatcache.Cache[entry]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caches[l1]--; c.caches[l1] <= 0 {
		delete(c.caches, l1)
	}
}

// Describe implements prometheus.Collector.
func (c *l1Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descL1Entries
	ch <- descL1Capacity
	ch <- descL1Evictions
	ch <- descL1Rejections
}

// Collect implements prometheus.Collector: the sums over the caches.
func (c *l1Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	caches := make([]*flatcache.Cache[entry], 0, len(c.caches))
	for l1 := range c.caches {
		caches = append(caches, l1)
	}
	c.mu.Unlock()
	var entries, capacity int
	var evictions, rejections uint64
	for _, l1 := range caches {
		entries += l1.Len()
		capacity += l1.Capacity()
		evictions += l1.Evictions()
		rejections += l1.Rejections()
	}
	ch <- prometheus.MustNewConstMetric(descL1Entries, prometheus.GaugeValue, float64(entries))
	ch <- prometheus.MustNewConstMetric(descL1Capacity, prometheus.GaugeValue, float64(capacity))
	ch <- prometheus.MustNewConstMetric(descL1Evictions, prometheus.CounterValue, float64(evictions))
	ch <- prometheus.MustNewConstMetric(descL1Rejections, prometheus.CounterValue, float64(rejections))
}

var _ prometheus.Collector = (*l1Collector)(nil)
