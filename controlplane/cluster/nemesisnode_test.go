//go:build faults

package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/fsm"
)

// A control-plane node in a process of its own, for the Raft nemesis: the
// test binary runs itself again as TestNemesisNodeProcess with the node's
// settings in nemesisNodeEnv, in a network namespace of its own
// (internal/testkit/netns), so that the nemesis can pause it (SIGSTOP),
// kill it (SIGKILL) and cut it off (its packets dropped by the kernel) as
// a real process on a real network. The node is the package's real Node
// (Raft over TCP with mutual TLS, BoltDB on disk, forwarding over the
// internal API) with nothing in its network path; the process adds what
// the nemesis needs:
//   - a control API on a Unix socket, which no network cut reaches, so
//     that the test sees the state of a node that is cut off;
//   - a clock skew: the node's Clock is the machine's clock plus an offset
//     set through the control API (Config.Clock is injectable already);
//   - the history: every lease and block command the node proposes, with
//     its input written before the proposal and its outcome after (times
//     from the machine's real clock, shared by every process), and every
//     ID and code it hands out, appended to files the test reads after;
//   - a loop handing out an ID and a code every IssueEvery, as creates do.

// nemesisNodeEnv carries a nemesisNode's settings as JSON.
const nemesisNodeEnv = "SHORTIFY_NEMESIS_NODE"

// nemesisNode are the settings of one node process.
type nemesisNode struct {
	NodeID      string        `json:"node_id"`
	Proc        string        `json:"proc"` // node ID and incarnation, in the history
	DataDir     string        `json:"data_dir"`
	RaftAddr    string        `json:"raft_addr"`
	APIAddr     string        `json:"api_addr"`     // internal listener (https)
	ControlSock string        `json:"control_sock"` // the nemesis's control API (http on a Unix socket)
	CertDir     string        `json:"cert_dir"`
	Bootstrap   bool          `json:"bootstrap"`
	Join        []string      `json:"join"`
	LeaseTTL    time.Duration `json:"lease_ttl"`
	BlockSize   uint64        `json:"block_size"`
	SkewMs      int64         `json:"skew_ms"`
	IssueEvery  time.Duration `json:"issue_every"`
	OpsFile     string        `json:"ops_file"`
	IssuedFile  string        `json:"issued_file"`
}

// nemesisState is what the control API's GET /state answers.
type nemesisState struct {
	Open      bool   `json:"open"`
	RaftState string `json:"raft_state"`
	LeaderID  string `json:"leader_id"`
	WorkerID  int    `json:"worker_id"`
	Fence     int64  `json:"fence"`  // the lease's end, in the FSM's ms
	NowMs     int64  `json:"now_ms"` // the node's (skewed) clock
	Ready     string `json:"ready"`  // why it is not ready; empty when ready
	Voters    int    `json:"voters"`
	Refused   int64  `json:"refused"` // IDs refused (no valid lease) since the process started
}

// TestNemesisNodeProcess is a node process of TestFault05RaftNemesis. Run
// without nemesisNodeEnv, as by `go test`, it returns at once.
func TestNemesisNodeProcess(t *testing.T) {
	raw := os.Getenv(nemesisNodeEnv)
	if raw == "" {
		return
	}
	var s nemesisNode
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatalf("%s: %v", nemesisNodeEnv, err)
	}
	if err := runNemesisNode(s); err != nil {
		t.Fatal(err)
	}
}

// jsonLines appends JSON lines to a file, one write each, so that a line
// written before a SIGKILL is in the file.
type jsonLines struct {
	mu sync.Mutex
	f  *os.File
}

func openJSONLines(path string) (*jsonLines, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &jsonLines{f: f}, nil
}

func (j *jsonLines) write(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		// A history with holes would pass for a clean one: stop.
		log.Fatalf("nemesis node: write history: %v", err)
	}
}

// runNemesisNode runs a node until the process is killed.
func runNemesisNode(s nemesisNode) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("proc", s.Proc)
	ops, err := openJSONLines(s.OpsFile)
	if err != nil {
		return err
	}
	out, err := openJSONLines(s.IssuedFile)
	if err != nil {
		return err
	}
	tc, err := clustertls.Load(clustertls.Files{
		CA:   filepath.Join(s.CertDir, clustertls.CACertFile),
		Cert: filepath.Join(s.CertDir, clustertls.CertFile(s.NodeID)),
		Key:  filepath.Join(s.CertDir, clustertls.KeyFile(s.NodeID)),
	})
	if err != nil {
		return err
	}
	var skew atomic.Int64
	skew.Store(s.SkewMs)
	var seq atomic.Int64
	cfg := cluster.Config{
		NodeID:    s.NodeID,
		DataDir:   s.DataDir,
		BindAddr:  s.RaftAddr,
		APIAddr:   "https://" + s.APIAddr,
		TLS:       tc,
		Bootstrap: s.Bootstrap,
		Join:      s.Join,
		LeaseTTL:  s.LeaseTTL,
		BlockSize: s.BlockSize,
		Logger:    logger,
		Clock:     func() time.Time { return time.Now().Add(time.Duration(skew.Load()) * time.Millisecond) },
	}
	cluster.WithObserver(&cfg, func(c fsm.Command) func(any, error) {
		op := grantOp{Proc: s.Proc, Op: seq.Add(1)}
		if !op.input(c) {
			return func(any, error) {}
		}
		op.Call = time.Now().UnixNano()
		ops.write(op)
		return func(resp any, err error) {
			op.output(resp, err)
			op.Return = time.Now().UnixNano()
			ops.write(op)
		}
	})

	// The internal listener: 503 until the node opens.
	var internal atomic.Pointer[http.Handler]
	ln, err := net.Listen("tcp", s.APIAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api.Pending(&internal), TLSConfig: tc.Server(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.ServeTLS(ln, "", "") }()

	var node atomic.Pointer[cluster.Node]
	var refused atomic.Int64
	go serveNemesisControl(s, &node, &skew, &refused, logger)

	// Open, again while no worker ID is free (a restarted node whose own
	// lease has not run out yet) or the cluster is out of reach.
	var n *cluster.Node
	for tries := 0; ; tries++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err = cluster.Open(ctx, cfg)
		cancel()
		if err == nil {
			break
		}
		if tries == 200 {
			return fmt.Errorf("open %s: %w", s.NodeID, err)
		}
		logger.Warn("open failed; again", "error", err)
		retry := time.NewTimer(100 * time.Millisecond) // a retry's back-off
		<-retry.C
	}
	node.Store(n)
	var h http.Handler = api.NewInternal(n, logger)
	internal.Store(&h)

	tick := time.NewTicker(s.IssueEvery)
	defer tick.Stop()
	for range tick.C {
		if id, err := n.NewID(); err == nil {
			out.write(issued{Proc: s.Proc, Node: s.NodeID, ID: id, At: time.Now().UnixNano()})
		} else {
			refused.Add(1)
		}
		if code, err := n.NextCode(); err == nil {
			at := time.Now().UnixNano()
			seq, err := n.Seq(code)
			if err != nil {
				return fmt.Errorf("code %q: %w", code, err)
			}
			out.write(issued{Proc: s.Proc, Node: s.NodeID, Seq: seq, Code: true, At: at})
		}
	}
	return nil
}

// serveNemesisControl serves the control API on s.ControlSock: GET
// /state, POST /skew?ms=, /grab?node=&ttl_ms= (an acquire for a made-up node: a
// lease taken over) and /fill?count= (count worker IDs leased for a day to
// made-up nodes).
func serveNemesisControl(s nemesisNode, node *atomic.Pointer[cluster.Node], skew, refused *atomic.Int64, logger *slog.Logger) {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		n := node.Load()
		if n == nil {
			reply(w, nemesisState{WorkerID: -1}, nil)
			return
		}
		st := n.State()
		ready := ""
		if err := n.Ready(); err != nil {
			ready = err.Error()
		}
		voters := 0
		for _, m := range n.Info().Nodes {
			if m.Suffrage == "voter" {
				voters++
			}
		}
		reply(w, nemesisState{Open: true, RaftState: st.RaftState, LeaderID: st.LeaderID, WorkerID: st.WorkerID,
			Fence: n.Fence(), NowMs: n.NowMs(), Ready: ready, Voters: voters, Refused: refused.Load()}, nil)
	})
	mux.HandleFunc("POST /skew", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.ParseInt(r.URL.Query().Get("ms"), 10, 64)
		if err == nil {
			skew.Store(ms)
		}
		reply(w, ms, err)
	})
	mux.HandleFunc("POST /grab", func(w http.ResponseWriter, r *http.Request) {
		n := node.Load()
		ttl, err := strconv.ParseInt(r.URL.Query().Get("ttl_ms"), 10, 64)
		if n == nil || err != nil {
			reply(w, nil, fmt.Errorf("not open, or bad ttl_ms: %v", err))
			return
		}
		resp, err := n.Propose(r.Context(), fsm.AcquireLease{Node: r.URL.Query().Get("node"), NowMs: n.NowMs(), TTLMs: ttl})
		if err == nil {
			err = resp.(*fsm.LeaseResult).Err
		}
		reply(w, resp, err)
	})
	mux.HandleFunc("POST /fill", func(w http.ResponseWriter, r *http.Request) {
		n := node.Load()
		if n == nil {
			reply(w, nil, errors.New("not open"))
			return
		}
		count, err := strconv.Atoi(r.URL.Query().Get("count"))
		if err != nil || count < 0 || count > fsm.NumWorkers {
			reply(w, nil, fmt.Errorf("count %q: want 0 to %d", r.URL.Query().Get("count"), fsm.NumWorkers))
			return
		}
		var g errgroup.Group
		g.SetLimit(16)
		var taken atomic.Int64
		for i := range count {
			g.Go(func() error {
				resp, err := n.Propose(r.Context(), fsm.AcquireLease{Node: fmt.Sprintf("filler-%d", i), NowMs: n.NowMs(), TTLMs: fsm.MaxTTLMs})
				if err != nil {
					return err
				}
				switch err := resp.(*fsm.LeaseResult).Err; {
				case err == nil:
					taken.Add(1)
				case !errors.Is(err, fsm.ErrNoFreeWorker):
					return err
				}
				return nil
			})
		}
		err = g.Wait()
		reply(w, taken.Load(), err)
	})
	// The socket of the incarnation before, killed, is in the way.
	if err := os.Remove(s.ControlSock); err != nil && !errors.Is(err, os.ErrNotExist) {
		logger.Error("control API", "error", err)
		os.Exit(3)
	}
	ln, err := net.Listen("unix", s.ControlSock)
	if err == nil {
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		err = srv.Serve(ln)
	}
	logger.Error("control API", "error", err)
	os.Exit(3)
}
