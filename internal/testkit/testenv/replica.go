package testenv

import (
	"context"
	"errors"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/testkit/procs"
)

const (
	// replicaStartTimeout bounds the base backup and the start of the
	// replica together (a small cluster takes a second or two).
	replicaStartTimeout = 60 * time.Second
	// replicaAppName names the replica's WAL receiver on the primary
	// (pg_stat_replication.application_name).
	replicaAppName = "shortify-test-replica"
)

// errNotYet is a condition not met yet, for procs.Poll.
var errNotYet = errors.New("not yet")

// Replica is a real streaming replica of the test PostgreSQL server,
// started by StartReplica for one test: a pg_basebackup of the primary in
// a directory of its own, run by the postgres binary of the primary's
// major version on a free port, in hot standby so that it serves reads.
// It is stopped and removed when the test ends.
type Replica struct {
	// Addr is the replica's 127.0.0.1:port.
	Addr string

	pg   *procs.Postgres
	stop sync.Once
}

// StartReplica takes a base backup of the test primary (AdminDSN) and
// starts it as a streaming replica (procs.StartReplica), returning once it
// streams WAL and accepts read-only connections. It fails the test, never
// skips, when it cannot: the primary must allow replication connections
// from this host (scripts/test-services.sh sets that up).
//
// PostgreSQL refuses to run as root, so when the tests run as root the
// backup and the server run as the postgres user, in a directory under
// the system's temporary directory that the user owns.
func StartReplica(tb testing.TB) *Replica {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaStartTimeout)
	defer cancel()
	start := time.Now()

	settings, err := procs.PrimarySettings(ctx, AdminDSN())
	if err != nil {
		tb.Fatalf("testenv: replica (run the tests with `make test`, which starts PostgreSQL): %v", err)
	}
	bin, err := procs.PGBinDir(settings["server_version_num"])
	if err != nil {
		tb.Fatalf("testenv: replica: %v", err)
	}
	// Not tb.TempDir: its parents are private to root, and the postgres
	// user must reach the data directory.
	dir, err := os.MkdirTemp("", "shortify-replica-")
	if err != nil {
		tb.Fatalf("testenv: replica: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) }) // runs after the stop below
	pg, err := procs.StartReplica(ctx, procs.ReplicaConfig{
		PGConfig:   procs.PGConfig{Dir: dir, Addr: FreeAddr(tb), BinDir: bin},
		PrimaryDSN: AdminDSN(),
		AppName:    replicaAppName,
	})
	if err != nil {
		tb.Fatalf("testenv: replica (scripts/test-services.sh lets the test server replicate): %v", err)
	}
	r := &Replica{Addr: pg.Addr, pg: pg}
	tb.Cleanup(func() { r.Stop(tb) })
	tb.Logf("testenv: replica on %s streaming after %v", r.Addr, time.Since(start).Round(time.Millisecond))
	return r
}

// DSN returns primaryDSN (a URL-form DSN of the test server, such as
// Database returns) pointed at the replica: the same database, user and
// options on the replica's address.
func (r *Replica) DSN(tb testing.TB, primaryDSN string) string {
	tb.Helper()
	u, err := url.Parse(primaryDSN)
	if err != nil || u.Scheme == "" {
		tb.Fatalf("testenv: replica DSN: want a URL-form DSN, got %s", redact(primaryDSN))
	}
	u.Host = r.Addr
	return u.String()
}

// Stop shuts the replica down (a fast shutdown: sessions are ended) and
// waits until it has exited; a test calls it to take the replica away
// mid-test. It is also run when the test ends, and may be called again.
func (r *Replica) Stop(tb testing.TB) {
	tb.Helper()
	r.stop.Do(func() {
		if exited, _ := r.pg.Exited(); exited {
			return // it died on its own; the start or the test says why
		}
		if err := r.pg.Stop(); err != nil {
			tb.Errorf("testenv: replica: %v\n%s", err, r.pg.LogTail(4000))
		}
	})
}

// PauseReplay stops the replica replaying WAL (it keeps receiving it), so
// that it lags behind the primary from now on, and returns once replay
// is paused.
func (r *Replica) PauseReplay(tb testing.TB) {
	tb.Helper()
	r.exec(tb, "SELECT pg_wal_replay_pause()")
	r.poll(tb, "replay paused", "SELECT pg_get_wal_replay_pause_state() = 'paused'")
}

// ResumeReplay undoes PauseReplay.
func (r *Replica) ResumeReplay(tb testing.TB) {
	tb.Helper()
	r.exec(tb, "SELECT pg_wal_replay_resume()")
}

// WaitReplayed returns once the replica has replayed all the WAL that the
// primary had flushed when it was called: everything committed before
// the call is visible on the replica. It fails the test after a minute,
// so never call it while replay is paused.
func (r *Replica) WaitReplayed(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), replicaStartTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminDSN())
	if err != nil {
		tb.Fatalf("testenv: replica: connect to the primary: %v", err)
	}
	defer conn.Close(context.Background())
	var target string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&target); err != nil {
		tb.Fatalf("testenv: replica: primary WAL position: %v", err)
	}
	r.poll(tb, "replayed up to "+target,
		"SELECT pg_last_wal_replay_lsn() >= '"+target+"'::pg_lsn")
}

func (r *Replica) exec(tb testing.TB, sql string) {
	tb.Helper()
	if err := r.pg.Query(tb.Context(), sql); err != nil {
		tb.Fatalf("testenv: replica on %s: %s: %v", r.Addr, sql, err)
	}
}

// poll runs a boolean query on the replica until it is true.
func (r *Replica) poll(tb testing.TB, what, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), replicaStartTimeout)
	defer cancel()
	err := procs.Poll(ctx, what, 10*time.Millisecond, r.pg.Process, func(ctx context.Context) error {
		var ok bool
		if err := r.pg.Query(ctx, sql, &ok); err != nil {
			return err
		}
		if !ok {
			return errNotYet
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("testenv: replica on %s: %v", r.Addr, err)
	}
}
