// Command shortify-stack runs Shortify's production shape on this machine
// (package internal/testkit/stack): PostgreSQL primary and streaming replica, a
// Redis Cluster, the Kafka-protocol broker, a 3-node control plane, two
// edges behind a Caddy front door and two stats instances, each a process
// of its own on the loopback interface, and a workspace "acme" whose
// verified custom domain go.acme.test serves a link through the front
// door. It prints where to reach them, and how to try the domain,
// runs until interrupted (Ctrl-C), then stops every process. `make stack`
// builds the binary and runs this.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/stack"
)

// startTimeout bounds starting the whole stack.
const startTimeout = 3 * time.Minute

func main() {
	dir := flag.String("dir", "data/stack", "directory for every process's data and log (emptied at start)")
	bin := flag.String("bin", "bin/shortify", "the shortify binary (make build)")
	caddyfiles := flag.String("caddyfiles", "deploy/caddyfiles", "directory of the role Caddyfiles")
	flag.Parse()
	log.SetFlags(log.Ltime)

	ports := stack.FixedPorts()
	if err := ports.Check(); err != nil {
		log.Fatalf("shortify-stack: %v", err)
	}
	// A fresh stack every time: a Redis Cluster and a Raft cluster keep
	// identities in their files that a second `redis-cli --cluster create`
	// or bootstrap would contradict.
	// PostgreSQL's directories may live outside it (procs.serverDir).
	if err := procs.RemoveServerDirs(*dir); err != nil {
		log.Fatalf("shortify-stack: %v", err)
	}
	if err := os.RemoveAll(*dir); err != nil {
		log.Fatalf("shortify-stack: %v", err)
	}

	// An interrupt during start-up stops it (and what it started).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	begin := time.Now()
	s, err := stack.Start(ctx, stack.Config{
		Dir: *dir, Binary: *bin, Caddyfiles: *caddyfiles, Ports: ports,
		Logf: log.Printf,
	})
	cancel()
	stop()
	if err != nil {
		log.Fatalf("shortify-stack: %v", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	log.Printf("the stack is up after %v\n\n%s\nCtrl-C stops every process.", time.Since(begin).Round(time.Millisecond), s.URLs())
	<-sigs
	log.Print("stopping…")
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "shortify-stack: %v\n", err)
		os.Exit(1)
	}
	log.Print("every process stopped")
}
