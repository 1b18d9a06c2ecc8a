package stack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"

	"github.com/shortify/shortify/internal/testkit/procs"
)

// Loopback addresses. Every process listens on 127.0.0.1 but the edges:
// the front door health-checks every edge on one operations port
// (health_port in frontdoor.Caddyfile, as in production where each edge
// is a host of its own), so the two edges get a loopback address each and
// the same ports.
const (
	host      = "127.0.0.1"
	edgeHost1 = "127.0.0.2"
	edgeHost2 = "127.0.0.3"
)

// edgeHosts are the edges' loopback addresses, in order.
var edgeHosts = []string{edgeHost1, edgeHost2}

// Ports is where every process of the stack listens. FixedPorts is the
// layout of `make stack` (docs/operations.md, "Production-shaped stack on one
// machine"); FreePorts picks free ones for tests.
type Ports struct {
	// Primary and Replica are the PostgreSQL servers'.
	Primary, Replica int
	// Redis are the six Redis Cluster nodes; each needs port+10000 too.
	Redis []int
	// Kafka is the broker's.
	Kafka int
	// FrontDoor, FrontDoorOps, FrontDoorAdmin: clients, metrics, Caddy admin.
	FrontDoor, FrontDoorOps, FrontDoorAdmin int
	// NodeAPI, NodeRaft, NodeCluster (the internal listener), NodeOps,
	// NodeAdmin: one per control-plane node.
	NodeAPI, NodeRaft, NodeCluster, NodeOps, NodeAdmin []int
	// Edge, EdgeOps, EdgeAdmin: the same on every edge's address.
	Edge, EdgeOps, EdgeAdmin int
	// StatsOps, StatsAdmin: one per stats instance.
	StatsOps, StatsAdmin []int
	// KafkaAdmin is the broker process's Caddy admin port.
	KafkaAdmin int
}

// FixedPorts is the port layout of `make stack`.
func FixedPorts() Ports {
	return Ports{
		Primary: 15432, Replica: 15433,
		Redis: []int{17001, 17002, 17003, 17004, 17005, 17006},
		Kafka: 19092, KafkaAdmin: 2040,
		FrontDoor: 8080, FrontDoorOps: 9180, FrontDoorAdmin: 2019,
		NodeAPI: []int{8081, 8082, 8083}, NodeRaft: []int{8301, 8302, 8303}, NodeCluster: []int{8311, 8312, 8313},
		NodeOps: []int{9181, 9182, 9183}, NodeAdmin: []int{2021, 2022, 2023},
		Edge: 8080, EdgeOps: 9180, EdgeAdmin: 2019,
		StatsOps: []int{9191, 9192}, StatsAdmin: []int{2031, 2032},
	}
}

// Free ports come from below the ephemeral range (procs.StablePortLow and
// procs.StablePortHigh: see there why). A Redis Cluster node's bus port
// (port+10000) must stay below it too.
const freeRedisTop = procs.StablePortHigh - 10000

// FreePorts picks ports that are free now, for a stack per test.
func FreePorts() (Ports, error) {
	var p Ports
	taken := map[int]bool{}
	var err error
	// pick returns a random port in [lo, hi) free on hosts and not yet in
	// the layout (with its bus port, for Redis).
	pick := func(lo, hi int, bus bool, hosts ...string) int {
		if err != nil {
			return 0
		}
		for range 1000 {
			port := lo + rand.IntN(hi-lo)
			if taken[port] || (bus && taken[port+10000]) || !procs.PortFree(port, hosts...) ||
				(bus && !procs.PortFree(port+10000, hosts...)) || !procs.Claim(port) || (bus && !procs.Claim(port+10000)) {
				continue
			}
			taken[port] = true
			if bus {
				taken[port+10000] = true
			}
			return port
		}
		err = errors.New("no free port below the ephemeral range")
		return 0
	}
	one := func() int { return pick(procs.StablePortLow, procs.StablePortHigh, false, host) }
	many := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = one()
		}
		return out
	}
	p.Primary, p.Replica, p.Kafka, p.KafkaAdmin = one(), one(), one(), one()
	p.FrontDoor, p.FrontDoorOps, p.FrontDoorAdmin = one(), one(), one()
	p.NodeAPI, p.NodeRaft, p.NodeCluster, p.NodeOps, p.NodeAdmin = many(3), many(3), many(3), many(3), many(3)
	p.StatsOps, p.StatsAdmin = many(2), many(2)
	for range 6 {
		p.Redis = append(p.Redis, pick(procs.StablePortLow, freeRedisTop, true, host))
	}
	p.Edge = pick(procs.StablePortLow, procs.StablePortHigh, false, edgeHosts...)
	p.EdgeOps = pick(procs.StablePortLow, procs.StablePortHigh, false, edgeHosts...)
	p.EdgeAdmin = pick(procs.StablePortLow, procs.StablePortHigh, false, edgeHosts...)
	return p, err
}

// Check reports the first port of the layout that is taken, so that
// `make stack` says which before it starts anything.
func (p Ports) Check() error {
	type use struct {
		host string
		port int
	}
	var all []use
	add := func(h string, ports ...int) {
		for _, port := range ports {
			all = append(all, use{h, port})
		}
	}
	add(host, p.Primary, p.Replica, p.Kafka, p.KafkaAdmin, p.FrontDoor, p.FrontDoorOps, p.FrontDoorAdmin)
	add(host, p.NodeAPI...)
	add(host, p.NodeRaft...)
	add(host, p.NodeCluster...)
	add(host, p.NodeOps...)
	add(host, p.NodeAdmin...)
	add(host, p.StatsOps...)
	add(host, p.StatsAdmin...)
	for _, r := range p.Redis {
		add(host, r, r+10000)
	}
	for _, h := range edgeHosts {
		add(h, p.Edge, p.EdgeOps, p.EdgeAdmin)
	}
	for _, u := range all {
		if !procs.PortFree(u.port, u.host) {
			return fmt.Errorf("port %s is taken (is another stack or `make run` running?)", hostPort(u.host, u.port))
		}
	}
	return nil
}

func hostPort(h string, port int) string { return net.JoinHostPort(h, strconv.Itoa(port)) }
