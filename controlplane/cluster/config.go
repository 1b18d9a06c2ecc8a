package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/fsm"
)

// Defaults filled in by Config.Validate.
const (
	// DefaultNodeID is the node ID used when the host name is unknown.
	DefaultNodeID = "node1"
	// DefaultLeaseTTL is how long a worker-ID lease lasts unless renewed.
	DefaultLeaseTTL = 30 * time.Second
	// DefaultBlockSize is the size of the sequence blocks a node asks for.
	DefaultBlockSize = 1000
)

// Limits checked by Config.Validate.
const (
	// MinLeaseTTL is the shortest lease TTL accepted.
	MinLeaseTTL = 100 * time.Millisecond
	// MaxLeaseTTL is the longest lease TTL accepted.
	MaxLeaseTTL = fsm.MaxTTLMs * time.Millisecond
	// maxNodeIDLen bounds node IDs, which travel in every lease command.
	maxNodeIDLen = fsm.MaxNodeIDLen
)

// Config configures a control-plane node.
type Config struct {
	// NodeID names the node in the Raft cluster and in its worker-ID
	// leases; it must stay the same across restarts. Default: the host
	// name, or DefaultNodeID.
	NodeID string
	// DataDir holds the node's Raft log, stable store and snapshots (in
	// DataDir/raft). Required.
	DataDir string
	// BindAddr is the host:port the Raft transport listens on. Required.
	// Port 0 picks a free port (for tests). Without TLS it must be a
	// loopback address, and no port is opened (see TLS).
	BindAddr string
	// AdvertiseAddr is the host:port other nodes reach this node's Raft
	// transport at. Default: BindAddr (with port 0: the port picked).
	AdvertiseAddr string
	// Bootstrap makes a node with no Raft state start a new one-node
	// cluster, which other nodes then join. Set it on the first node of a
	// cluster only. A node with state ignores it.
	Bootstrap bool
	// APIAddr is the https base URL of this node's internal listener (the
	// node-to-node routes, mutual TLS) as the other members reach it, such
	// as https://10.0.0.5:8301 ("host:port" means https://host:port). It
	// is kept in the FSM's node registry: while this node leads, followers
	// forward the writes that need the leader to it, and joining nodes are
	// told to. Required with Join; without it this node can only lead a
	// cluster of one. Requires TLS.
	APIAddr string
	// Join lists the base URLs of internal listeners of members of an
	// existing cluster (same forms as APIAddr). A node with no Raft state
	// that is not bootstrapping asks them in turn to add it as a voter
	// (POST /api/v1/cluster/join), retrying until one does or Open's
	// context ends. A node with Raft state is a member already and ignores
	// Join. Requires TLS.
	Join []string
	// TLS is the cluster's mutual TLS: the Raft transport and the calls to
	// other members use it, and accept only peers with a certificate from
	// the same cluster CA. Nil: a one-node cluster that opens no Raft port
	// (raft's in-memory transport); Join, APIAddr and a non-loopback
	// BindAddr are refused then.
	TLS *clustertls.Config
	// HTTPClient sends the calls to other members' internal listeners; it
	// must present this node's certificate and trust the cluster CA.
	// Default: a client of the node's own, built from TLS, with keep-alive
	// connections.
	HTTPClient *http.Client
	// LeaseTTL is how long the worker-ID lease lasts unless renewed; it is
	// renewed every LeaseTTL/3. Default: DefaultLeaseTTL.
	LeaseTTL time.Duration
	// BlockSize is the number of sequence numbers the node asks for at a
	// time (it asks for more while demand outruns it), 1..fsm.MaxBlockSize.
	// Default: DefaultBlockSize.
	BlockSize uint64
	// RecordBlock, when set, is called with the last number of every
	// sequence block the node fetches, before any number of it is handed
	// out: the control plane raises the link database's sequence mark
	// (seqfloor.Ledger.RecordBlock), which a restore moves past. When it
	// fails the block is dropped (its numbers are never used) and the
	// refill fails.
	RecordBlock func(ctx context.Context, high uint64) error
	// Restore, when set, makes the node that leads a cluster without a
	// code key (a new cluster it bootstraps) restore this backup instead
	// of making a new key (restore.go). Other nodes ignore it.
	Restore *Restore
	// Logger receives the node's and raft's logs. Default: slog.Default().
	Logger *slog.Logger
	// Clock is the wall clock of leases and Snowflake IDs. Default: time.Now.
	Clock func() time.Time

	// hooks are test-only knobs (see export_test.go); nil in production.
	hooks *hooks
}

// hooks let tests cut a node off the network, tune Raft and watch what the
// node proposes.
type hooks struct {
	// gate, when set, carries the node's Raft connections and its calls to
	// other members, so a test can cut them.
	gate *netGate
	// tune adjusts the Raft configuration (snapshot thresholds).
	tune func(*raft.Config)
	// resolve, when set, stands in for DNS on Raft dials: it maps the
	// host:port dialled to the address to connect to.
	resolve func(hostport string) string
	// observe, when set, sees every command the node proposes: it is
	// called before the proposal and the function it returns after, with
	// the outcome, so that a test can record a history with honest
	// invoke and return times (the Raft nemesis checks it).
	observe func(fsm.Command) func(resp any, err error)
}

// Validate fills in defaults and checks the configuration. Open calls it.
func (c *Config) Validate() error {
	if c.NodeID == "" {
		c.NodeID = DefaultNodeID
		if h, err := os.Hostname(); err == nil && h != "" {
			c.NodeID = h
		}
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.BindAddr
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Join != nil {
		c.Join = append([]string(nil), c.Join...)
	}

	var errs []error
	if err := checkNodeID(c.NodeID); err != nil {
		errs = append(errs, err)
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory is required"))
	}
	if c.BindAddr == "" {
		errs = append(errs, errors.New("Raft bind address is required"))
	} else if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		errs = append(errs, fmt.Errorf("Raft bind address: %w", err))
	}
	if c.AdvertiseAddr != "" {
		if host, _, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("Raft advertise address: %w", err))
		} else if isUnspecified(host) {
			errs = append(errs, fmt.Errorf("Raft advertise address %q is not reachable by other nodes: set AdvertiseAddr", c.AdvertiseAddr))
		}
	}
	if c.LeaseTTL < MinLeaseTTL || c.LeaseTTL > MaxLeaseTTL {
		errs = append(errs, fmt.Errorf("lease TTL %v not in %v..%v", c.LeaseTTL, MinLeaseTTL, MaxLeaseTTL))
	}
	if c.BlockSize > fsm.MaxBlockSize {
		errs = append(errs, fmt.Errorf("block size %d above %d", c.BlockSize, fsm.MaxBlockSize))
	}
	if c.APIAddr != "" {
		u, err := BaseURL(c.APIAddr)
		if err != nil {
			errs = append(errs, fmt.Errorf("API address: %w", err))
		} else if isUnspecified(u.Hostname()) {
			errs = append(errs, fmt.Errorf("API address %q is not reachable by other nodes: give the address they use", c.APIAddr))
		} else {
			c.APIAddr = u.String()
		}
	}
	for i, j := range c.Join {
		u, err := BaseURL(j)
		if err != nil {
			errs = append(errs, fmt.Errorf("join address: %w", err))
			continue
		}
		c.Join[i] = u.String()
	}
	if len(c.Join) > 0 && c.APIAddr == "" {
		errs = append(errs, errors.New("a node that joins a cluster needs an API address (APIAddr) for the other members to forward writes to"))
	}
	if c.TLS == nil {
		errs = append(errs, c.checkAlone()...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster: invalid config: %w", err)
	}
	return nil
}

// checkAlone refuses the settings of a multi-node cluster on a node
// without cluster TLS: nothing but the cluster CA proves that a peer is a
// member, so without it the node must not take peers at all.
func (c *Config) checkAlone() []error {
	const how = "; configure cluster TLS (cluster_ca, cluster_cert, cluster_key; make them with `shortify cluster-ca` and `shortify cluster-cert`)"
	var errs []error
	if len(c.Join) > 0 {
		errs = append(errs, errors.New("joining a cluster needs cluster TLS"+how))
	}
	if c.APIAddr != "" {
		errs = append(errs, errors.New("an API address for other members (api_addr) needs cluster TLS"+how))
	}
	for _, a := range []string{c.BindAddr, c.AdvertiseAddr} {
		if host, _, err := net.SplitHostPort(a); err == nil && !isLoopback(host) {
			errs = append(errs, fmt.Errorf("Raft address %q is not a loopback address: a node other machines can reach needs cluster TLS%s", a, how))
			break
		}
	}
	return errs
}

// isLoopback reports whether host is a loopback IP or "localhost".
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isUnspecified reports whether host names no one address (empty, 0.0.0.0,
// ::).
func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// BaseURL parses the base URL of a node's internal listener: https, a
// host, no path, query or user info. A bare "host:port" means
// https://host:port. The result has no trailing slash.
func BaseURL(s string) (*url.URL, error) {
	raw := strings.TrimSpace(s)
	if raw != "" && !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL: %w", s, err)
	case u.Scheme != "https":
		return nil, fmt.Errorf("%q must be an https URL: members call each other's internal listener (cluster_listen) over mutual TLS", s)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "":
		return nil, fmt.Errorf("%q must be a scheme and a host only, such as https://10.0.0.5:8301", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q has a bad port", s)
		}
	}
	u.Path, u.RawPath = "", ""
	return u, nil
}
