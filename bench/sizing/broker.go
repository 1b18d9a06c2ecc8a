package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/kafkabroker"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
)

// brokerChildArg makes the command run only the broker: the parent
// measures the child's CPU, which is then the broker's alone.
const brokerChildArg = "-broker-child"

// runBrokerChild runs a broker with its data in os.Args[2] on a free port,
// prints "ready ADDR", and closes it (writing its data) when stdin ends.
func runBrokerChild() error {
	if len(os.Args) != 3 {
		return fmt.Errorf("usage: sizing %s DATADIR", brokerChildArg)
	}
	b, err := kafkabroker.Start(context.Background(), kafkabroker.Config{Listen: "127.0.0.1:0", DataDir: os.Args[2], Partitions: 8})
	if err != nil {
		return err
	}
	fmt.Println("ready", b.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	b.Close()
	return nil
}

// measureBroker starts the embedded broker (kafkabroker: kfake) in a child
// process, produces click events to it with the edge's emitter (lz4
// batches, 10 ms linger, idempotent), and prints the broker's CPU per
// event and the bytes an event takes in its data directory.
func measureBroker(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "shortify-sizing-kafka-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, brokerChildArg, dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the broker: %w", err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		return fmt.Errorf("the broker did not start (%q): %v", line, err)
	}

	em, err := clickevents.NewEmitter(clickevents.Config{Brokers: []string{addr}})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(7, 19))
	evs := aggtest.Events(rng, 10_000, aggtest.Links(100_000), time.Now().Add(-time.Minute), time.Minute, 1_000_000)
	cpu0, err := procs.CPUTime(cmd.Process.Pid)
	if err != nil {
		return err
	}
	begin := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; i < o.events; {
		ev := evs[i%len(evs)]
		ev.Time = time.Now()
		if em.Emit(&ev) {
			i++
			continue
		}
		<-tick.C // the buffer is full: let the client drain it
	}
	closeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := em.Close(closeCtx); err != nil {
		return fmt.Errorf("flush the emitter: %w", err)
	}
	took := time.Since(begin)
	cpu1, err := procs.CPUTime(cmd.Process.Pid)
	if err != nil {
		return err
	}
	s := em.Stats()
	if s.Produced == 0 {
		return fmt.Errorf("no event was produced (%+v)", s)
	}
	fmt.Printf("broker: %d events produced (%d dropped and retried, %d failed) in %s: %.2f µs of broker CPU an event (kfake, 8 partitions)\n",
		s.Produced, s.Dropped, s.Failed, took.Round(time.Millisecond), float64((cpu1-cpu0).Nanoseconds())/1e3/float64(s.Produced))

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("the broker exited: %w", err)
	}
	var size int64
	err = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err == nil {
			size += info.Size()
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Printf("broker: data directory %s after close: %.0f B an event (lz4 batches, one replica)\n", mib(size), float64(size)/float64(s.Produced))
	return nil
}
