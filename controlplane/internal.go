package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/clustertls"
)

// Timeouts of the internal listener: members send small bodies and answer
// within a Raft configuration change (30 s).
const (
	internalReadHeaderTimeout = 5 * time.Second
	internalReadTimeout       = 30 * time.Second
	internalWriteTimeout      = 60 * time.Second
	internalIdleTimeout       = 2 * time.Minute
	internalShutdownTimeout   = 5 * time.Second
)

// internalServer is the node's internal listener (cluster_listen): an
// https server that requires a client certificate of the cluster CA and
// serves the node-to-node routes (api.NewInternal) and nothing else. It
// belongs to the service, so it lives across config reloads as the node
// does.
type internalServer struct {
	srv  *http.Server
	addr string
	log  *slog.Logger
	// h is the routes' handler once the node is open; nil before (503).
	h atomic.Pointer[http.Handler]
}

// listenInternal listens on addr and serves 503 until serve is called.
func listenInternal(addr string, tc *clustertls.Config, log *slog.Logger) (*internalServer, error) {
	if tc == nil {
		return nil, errors.New("shortify: cluster_listen needs cluster TLS (cluster_ca, cluster_cert, cluster_key)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("shortify: cluster_listen %s: %w", addr, err)
	}
	s := &internalServer{addr: ln.Addr().String(), log: log.With("component", "cluster_listen")}
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         tc.Server(),
		ReadHeaderTimeout: internalReadHeaderTimeout,
		ReadTimeout:       internalReadTimeout,
		WriteTimeout:      internalWriteTimeout,
		IdleTimeout:       internalIdleTimeout,
		// Refused handshakes (a client without a member certificate)
		// are logged at debug level: a scanner is no incident.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("the internal listener stopped", "addr", s.addr, "error", err)
		}
	}()
	s.log.Info("internal listener for cluster members (mutual TLS)", "addr", s.addr)
	return s, nil
}

// serve puts the node's routes in place.
func (s *internalServer) serve(node *cluster.Node) {
	h := api.NewInternal(node, s.log)
	s.h.Store(&h)
}

// ServeHTTP implements http.Handler: 503 until the node's routes are in
// place.
func (s *internalServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	api.Pending(&s.h).ServeHTTP(w, r)
}

// Close stops the listener, letting calls under way finish within a bound.
func (s *internalServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), internalShutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
		return fmt.Errorf("shortify: stop the internal listener %s: %w", s.addr, err)
	}
	return nil
}
