package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

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
	maxNodeIDLen = 128
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
	// Port 0 picks a free port (for tests).
	BindAddr string
	// AdvertiseAddr is the host:port other nodes reach this node's Raft
	// transport at. Default: BindAddr (with port 0: the port picked).
	AdvertiseAddr string
	// Bootstrap makes a node with no Raft state start a new one-node
	// cluster. A node with state ignores it.
	Bootstrap bool
	// LeaseTTL is how long the worker-ID lease lasts unless renewed; it is
	// renewed every LeaseTTL/3. Default: DefaultLeaseTTL.
	LeaseTTL time.Duration
	// BlockSize is the number of sequence numbers the node asks for at a
	// time (it asks for more while demand outruns it), 1..fsm.MaxBlockSize.
	// Default: DefaultBlockSize.
	BlockSize uint64
	// Logger receives the node's and raft's logs. Default: slog.Default().
	Logger *slog.Logger
	// Clock is the wall clock of leases and Snowflake IDs. Default: time.Now.
	Clock func() time.Time
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

	var errs []error
	if len(c.NodeID) > maxNodeIDLen {
		errs = append(errs, fmt.Errorf("node ID is %d bytes, at most %d allowed", len(c.NodeID), maxNodeIDLen))
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
		} else if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			errs = append(errs, fmt.Errorf("Raft advertise address %q is not reachable by other nodes: set AdvertiseAddr", c.AdvertiseAddr))
		}
	}
	if c.LeaseTTL < MinLeaseTTL || c.LeaseTTL > MaxLeaseTTL {
		errs = append(errs, fmt.Errorf("lease TTL %v not in %v..%v", c.LeaseTTL, MinLeaseTTL, MaxLeaseTTL))
	}
	if c.BlockSize > fsm.MaxBlockSize {
		errs = append(errs, fmt.Errorf("block size %d above %d", c.BlockSize, fsm.MaxBlockSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster: invalid config: %w", err)
	}
	return nil
}
