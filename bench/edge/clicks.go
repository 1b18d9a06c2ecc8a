package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
)

// The topics the edge uses with kafka_brokers: it produces click events
// to the first and consumes link events (invalidation) from the second.
// The broker is seeded with both, so that nothing waits for topic
// creation.
const (
	clicksTopic     = clickevents.DefaultTopic
	linkEventsTopic = linkevents.DefaultTopic
)

// kafkaOptionNames are the shortify_edge subdirectives that may take the Kafka
// brokers, in the order they are tried: the control plane's global option
// is kafka_brokers, so the edge's is expected to match.
var kafkaOptionNames = []string{"kafka_brokers", "kafka"}

// probeKafkaOption returns the shortify_edge subdirective that takes Kafka
// brokers in this binary, or "" when it has none: it adapts a Caddyfile
// that uses each candidate and keeps the first that Caddy accepts. Adapting
// only parses, so the probe connects to nothing.
func probeKafkaOption(ctx context.Context, bin, dir string) (string, error) {
	for _, name := range kafkaOptionNames {
		body := shortifyOptions{
			database: "postgres://127.0.0.1:1/probe", cacheSize: 1, cacheTTL: "1m",
			kafkaOption: name, kafkaAddr: "127.0.0.1:1",
		}.body()
		file := filepath.Join(dir, "probe-"+name+".Caddyfile")
		if err := os.WriteFile(file, []byte(siteBlock("127.0.0.1:1", body)), 0o644); err != nil {
			return "", err
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := exec.CommandContext(ctx, bin, "adapt", "--config", file, "--adapter", "caddyfile").CombinedOutput()
		cancel()
		switch {
		case err == nil:
			return name, nil
		case strings.Contains(string(out), "unknown shortify_edge option"):
			continue
		default:
			return "", fmt.Errorf("probe the shortify_edge option %s: %w\n%s", name, err, out)
		}
	}
	return "", nil
}

// startBroker starts an in-process Kafka-protocol broker on 127.0.0.1 with
// the edge's topics. It accepts and acknowledges produce requests but keeps
// no records (BlackholeProduce): the benchmark measures the edge, and a
// broker that stored every event would take CPU from the server it
// measures on this two-core machine.
func startBroker() (*kfake.Cluster, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, clicksTopic, linkEventsTopic), kfake.BlackholeProduce())
	if err != nil {
		return nil, fmt.Errorf("start the kfake broker: %w", err)
	}
	return c, nil
}
