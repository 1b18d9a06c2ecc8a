package procs

import (
	"context"
	"fmt"
	"time"
)

// Restart starts a server that has stopped (Stop or Kill) again on the
// same data directory and address, with the binaries in binDir, and
// returns the new process once it accepts connections. A fault test uses
// it to bring a primary back after an outage: the clients must reconnect
// to the same address on their own. p itself stays stopped.
func (p *Postgres) Restart(ctx context.Context, binDir string) (*Postgres, error) {
	if exited, _ := p.Exited(); !exited {
		return nil, fmt.Errorf("restart %s: it is still running", p.Name)
	}
	cred, err := PostgresCredential()
	if err != nil {
		return nil, err
	}
	n, err := startPostgres(PGConfig{Dir: p.Dir, Addr: p.Addr, BinDir: binDir}, cred)
	if err != nil {
		return nil, err
	}
	if err := Poll(ctx, "PostgreSQL on "+p.Addr+" after a restart", 20*time.Millisecond, n.Process, func(ctx context.Context) error {
		return n.Query(ctx, "SELECT 1")
	}); err != nil {
		n.Kill()
		return nil, err
	}
	return n, nil
}
