// Package netns gives a test a private network of Linux network
// namespaces, one per node, joined by a bridge, and cuts a node off by
// dropping its packets in the kernel: the node's peers see what a real
// network fault does (dials and writes that time out, connections left
// half-open), not the clean refusals of a gate in the product's code.
//
//	nw := netns.New(t, 3)                  // 3 namespaces on one bridge
//	cmd := nw.Command(0, "prog", "args")   // ip netns exec: prog in node 0
//	addr := nw.Addr(0).String() + ":7000"  // node 0's address, for the others
//	nw.Cut(0)                              // every packet to and from node 0 dropped
//	nw.Heal(0)
//	nw.CutTo(0)                            // one way: node 0 sends, hears nothing
//
// Each Net is a network of its own: its bridge lives in a hub namespace,
// not in the machine's, so the machine's interfaces and routes are left
// alone and two tests may run Nets with the same addresses side by side.
// The test process itself (in the machine's namespace) cannot reach the
// nodes' addresses; it talks to its node processes through files or Unix
// sockets, which no cut touches, or opens sockets inside a node with Do.
//
// A cut sets the node's bridge port to the disabled state: the bridge
// drops every frame the node sends and sends it none, while both ends of
// the link stay up. Each node knows the others' MAC addresses from
// permanent neighbour entries, so a cut never turns into an ARP failure
// ("no route to host"): packets vanish and TCP retransmits into the void.
// A one-way cut (CutTo, CutFrom) redirects the frames of one direction
// of the node's bridge port, with a tc u32 filter, into a sink: a veth
// pair with no address, whose far end drops what is not meant for it.
//
// It needs root (network namespaces, links) and iproute2's ip, bridge
// and tc commands; New fails the test, it does not skip, without them.
package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// prefix starts the name of every namespace this package creates; the
// creating process's ID follows, so that a sweep can tell leftovers of a
// process that died (killed before its cleanup) from a live test's.
const prefix = "sfy"

// netnsDir is where `ip netns add` keeps the namespaces' handles.
const netnsDir = "/run/netns"

// seq tells apart the Nets of one process.
var seq atomic.Int64

// Net is a private network of namespaces joined by a bridge.
type Net struct {
	tb     testing.TB
	hub    string   // the namespace of the bridge
	nodes  []string // the nodes' namespaces
	oneWay []bool   // node i's port has a one-way cut's qdisc
}

// New creates n namespaces, node i with the address Addr(i) on a bridge
// they share, and removes them all in tb's cleanup, also after a failure.
// Processes still running in a namespace then keep it alive until they
// exit: stop them in a cleanup registered after New (cleanups run last
// registered first).
func New(tb testing.TB, n int) *Net {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatalf("netns: network namespaces need root (euid %d)", os.Geteuid())
	}
	for _, cmd := range []string{"ip", "bridge", "tc"} {
		if _, err := exec.LookPath(cmd); err != nil {
			tb.Fatalf("netns: the %s command of iproute2 is needed: %v", cmd, err)
		}
	}
	if n < 1 || n > 250 {
		tb.Fatalf("netns: %d nodes, want 1 to 250", n)
	}
	sweep(tb)
	base := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq.Add(1))
	nw := &Net{tb: tb, hub: base + "-hub", oneWay: make([]bool, n)}
	for i := range n {
		nw.nodes = append(nw.nodes, fmt.Sprintf("%s-%d", base, i))
	}
	tb.Cleanup(nw.remove)

	nw.ip("netns", "add", nw.hub)
	nw.ip("-n", nw.hub, "link", "add", "br0", "type", "bridge")
	nw.ip("-n", nw.hub, "link", "set", "br0", "up")
	nw.ip("-n", nw.hub, "link", "add", "sink", "type", "veth", "peer", "name", "sink1")
	nw.ip("-n", nw.hub, "link", "set", "sink", "up")
	nw.ip("-n", nw.hub, "link", "set", "sink1", "up")
	for i, ns := range nw.nodes {
		nw.ip("netns", "add", ns)
		nw.ip("-n", ns, "link", "set", "lo", "up")
		nw.ip("-n", nw.hub, "link", "add", port(i), "type", "veth", "peer", "name", "eth0", "netns", ns)
		nw.ip("-n", nw.hub, "link", "set", port(i), "master", "br0", "up")
		nw.ip("-n", ns, "link", "set", "eth0", "address", mac(i), "up")
		nw.ip("-n", ns, "addr", "add", nw.Addr(i).String()+"/24", "dev", "eth0")
	}
	for i, ns := range nw.nodes {
		for j := range nw.nodes {
			if j != i {
				nw.ip("-n", ns, "neigh", "replace", nw.Addr(j).String(), "lladdr", mac(j), "dev", "eth0", "nud", "permanent")
			}
		}
	}
	return nw
}

// Len is the number of nodes.
func (nw *Net) Len() int { return len(nw.nodes) }

// Name is node i's namespace, as `ip netns` knows it.
func (nw *Net) Name(i int) string { return nw.nodes[i] }

// Addr is node i's address on the bridge: 10.77.0.(i+1). Every Net has
// the same addresses, each in a network of its own.
func (nw *Net) Addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 77, 0, byte(i + 1)}) }

// Command is exec.Command(name, args...) run inside node i's namespace
// (through `ip netns exec`, which execs the program: its process ID is the
// one to signal).
func (nw *Net) Command(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", nw.nodes[i], name}, args...)...)
}

// Cut drops every packet to and from node i until Heal.
func (nw *Net) Cut(i int) {
	nw.tb.Helper()
	nw.setPort(i, "0") // BR_STATE_DISABLED
}

// CutTo drops every packet to node i until Heal; what it sends goes
// through.
func (nw *Net) CutTo(i int) {
	nw.tb.Helper()
	nw.sink(i, "egress") // the port's egress is towards the node
}

// CutFrom drops every packet node i sends until Heal; what is sent to it
// goes through.
func (nw *Net) CutFrom(i int) {
	nw.tb.Helper()
	nw.sink(i, "ingress")
}

// Heal undoes Cut, CutTo and CutFrom: node i's packets flow again. Open
// connections that TCP has not given up on carry on.
func (nw *Net) Heal(i int) {
	nw.tb.Helper()
	nw.setPort(i, "3") // BR_STATE_FORWARDING
	if nw.oneWay[i] {
		nw.run("tc", "-n", nw.hub, "qdisc", "del", "dev", port(i), "clsact")
		nw.oneWay[i] = false
	}
}

// sink redirects every frame crossing node i's port in direction dir
// (ingress: from the node; egress: to it) into the sink.
func (nw *Net) sink(i int, dir string) {
	nw.tb.Helper()
	if !nw.oneWay[i] {
		nw.run("tc", "-n", nw.hub, "qdisc", "add", "dev", port(i), "clsact")
		nw.oneWay[i] = true
	}
	nw.run("tc", "-n", nw.hub, "filter", "add", "dev", port(i), dir, "u32", "match", "u32", "0", "0",
		"action", "mirred", "egress", "redirect", "dev", "sink")
}

// setPort sets the state of node i's bridge port.
func (nw *Net) setPort(i int, state string) {
	nw.tb.Helper()
	nw.run("bridge", "-netns", nw.hub, "link", "set", "dev", port(i), "state", state)
}

// Do runs f on an OS thread that has joined node i's namespace: sockets f
// opens (a listener, a dial) belong to that namespace for their whole
// life, whichever goroutine uses them afterwards. f must not start
// goroutines that open sockets: they would run elsewhere.
func (nw *Net) Do(i int, f func() error) error {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: own namespace: %w", err)
	}
	defer self.Close()
	target, err := os.Open(filepath.Join(netnsDir, nw.nodes[i]))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: namespace of node %d: %w", i, err)
	}
	defer target.Close()
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: join node %d: %w", i, err)
	}
	ferr := f()
	if err := setns(self); err != nil {
		// The thread stays locked, so the runtime ends it with this
		// goroutine rather than reuse it in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("netns: back to the own namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// setns moves the calling thread into the network namespace f refers to.
func setns(f *os.File) error {
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

// remove deletes the namespaces; their links and the bridge go with them.
func (nw *Net) remove() {
	for _, ns := range append(nw.nodes, nw.hub) {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				nw.tb.Errorf("netns: ip netns del %s: %v: %s", ns, err, bytes.TrimSpace(out))
			}
		}
	}
}

// ip runs the ip command and fails the test if it fails.
func (nw *Net) ip(args ...string) {
	nw.tb.Helper()
	nw.run("ip", args...)
}

// run runs a command of iproute2 and fails the test if it fails.
func (nw *Net) run(name string, args ...string) {
	nw.tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		nw.tb.Fatalf("netns: %s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// sweep deletes the namespaces of processes that died before their
// cleanup ran.
func sweep(tb testing.TB) {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return // none yet
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // alive (or a new process with its ID: left alone)
		}
		if out, err := exec.Command("ip", "netns", "del", e.Name()).CombinedOutput(); err != nil {
			tb.Logf("netns: a leftover namespace %s: %v: %s", e.Name(), err, bytes.TrimSpace(out))
		}
	}
}

// port is the hub's end of node i's link.
func port(i int) string { return "p" + strconv.Itoa(i) }

// mac is node i's MAC address: locally administered, fixed, so that the
// neighbour entries can be written before anything is sent.
func mac(i int) string { return fmt.Sprintf("02:5f:00:00:%02x:%02x", i>>8, i&0xff) }
