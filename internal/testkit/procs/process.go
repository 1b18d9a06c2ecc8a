// Package procs starts and stops the server processes that tests and the
// production-shaped stack (internal/testkit/stack) run on one machine: any child
// process with its output in a log file, private PostgreSQL clusters and
// streaming replicas, and Redis servers and clusters. It has no testing
// dependency; internal/testkit/testenv wraps it for tests.
package procs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Process is a child process started by Start: in a process group of its
// own (so that a ^C at the terminal reaches it only through Stop) and,
// where the system can, killed when the starting process dies first.
type Process struct {
	// Name says what the process is, in errors.
	Name string
	// Log is the file its stdout and stderr go to.
	Log string

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	stop    sync.Once
}

// Start starts cmd with its output appended to logPath. cmd's
// SysProcAttr is kept (for a Credential) and given its own process group.
func Start(name string, cmd *exec.Cmd, logPath string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	defer logf.Close() // the child has its own copy of the descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = new(syscall.SysProcAttr)
	}
	cmd.SysProcAttr.Setpgid = true
	dieWithParent(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, cmd.Path, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its exit error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Stop sends sig (SIGINT asks both Caddy and PostgreSQL for a clean, fast
// shutdown) and waits up to within for the process to exit; after that it
// kills the whole process group and reports that it had to. Later calls
// (and calls after Kill) do nothing.
func (p *Process) Stop(sig syscall.Signal, within time.Duration) error {
	var err error
	p.stop.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		if e := p.cmd.Process.Signal(sig); e != nil && !errors.Is(e, os.ErrProcessDone) {
			err = fmt.Errorf("stop %s: %w", p.Name, e)
		}
		select {
		case <-p.done:
		case <-time.After(within):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			err = fmt.Errorf("%s did not stop within %v of %v; killed", p.Name, within, sig)
		}
	})
	return err
}

// Kill kills the process group at once (kill -9), as a crash would, and
// waits for the process to exit.
func (p *Process) Kill() {
	p.stop.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

// LogTail returns the last n bytes of the process's log, for errors.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Poll calls cond every interval until it returns nil, the context ends,
// or proc (if not nil) exits; it returns cond's last error with what in
// the message when it gives up. The one loop every start-up wait here
// uses.
func Poll(ctx context.Context, what string, interval time.Duration, proc *Process, cond func(context.Context) error) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var done <-chan struct{}
	if proc != nil {
		done = proc.done
	}
	for {
		last := cond(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited while waiting for %s: %v; log:\n%s", proc.Name, what, proc.waitErr, proc.LogTail(3000))
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// The ports of the servers that tests and the local stack start come
// from below Linux's default ephemeral range (32768 and up), at random. A
// port the kernel hands out for ":0" is an ephemeral one: once that probe
// closes it, it can become the source port of any outgoing connection,
// or the next ":0" probe of another test process, in the moment before
// the server binds it (seen: a test's Caddy answering with a reset).
const (
	StablePortLow  = 10000
	StablePortHigh = 32768
)

// FreePort returns a random port in [StablePortLow, StablePortHigh) that
// can be listened on at every host now (127.0.0.1 when none is given) and
// that no other test process was given lately (Claim).
func FreePort(hosts ...string) (int, error) {
	return freePortIn(StablePortLow, StablePortHigh, hosts...)
}

func freePortIn(lo, hi int, hosts ...string) (int, error) {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	for range 1000 {
		if port := lo + rand.IntN(hi-lo); PortFree(port, hosts...) && Claim(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port in %d..%d on %v", lo, hi-1, hosts)
}

// PortFree reports whether port can be listened on at every host.
func PortFree(port int, hosts ...string) bool {
	for _, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}
