package stack

import (
	"strconv"
	"testing"
)

// TestPortLayouts: neither layout uses one address twice (a Redis node's
// bus port included), and free ports are free.
func TestPortLayouts(t *testing.T) {
	free, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	if err := free.Check(); err != nil {
		t.Errorf("FreePorts: %v", err)
	}
	for name, p := range map[string]Ports{"fixed": FixedPorts(), "free": free} {
		seen := map[string]bool{}
		use := func(h string, ports ...int) {
			for _, port := range ports {
				a := h + ":" + strconv.Itoa(port)
				if port <= 0 || seen[a] {
					t.Errorf("%s layout: %s used twice or unset", name, a)
				}
				seen[a] = true
			}
		}
		use(host, p.Primary, p.Replica, p.Kafka, p.KafkaAdmin, p.FrontDoor, p.FrontDoorOps, p.FrontDoorAdmin)
		for _, l := range [][]int{p.NodeAPI, p.NodeRaft, p.NodeCluster, p.NodeOps, p.NodeAdmin, p.StatsOps, p.StatsAdmin} {
			use(host, l...)
		}
		for _, r := range p.Redis {
			use(host, r, r+10000)
		}
		for _, h := range edgeHosts {
			use(h, p.Edge, p.EdgeOps, p.EdgeAdmin)
		}
		if len(p.Redis) != 6 || len(p.NodeAPI) != 3 || len(p.NodeCluster) != 3 || len(p.StatsOps) != 2 {
			t.Errorf("%s layout: %d Redis nodes, %d control-plane nodes, %d stats instances", name, len(p.Redis), len(p.NodeAPI), len(p.StatsOps))
		}
	}
}
