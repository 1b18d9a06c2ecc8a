package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// replicaStartTimeout bounds the base backup and the start of the
	// replica together (a small cluster takes a second or two).
	replicaStartTimeout = 60 * time.Second
	// replicaStopTimeout bounds a fast shutdown before the replica is
	// killed.
	replicaStopTimeout = 30 * time.Second
	// replicaAppName names the replica's WAL receiver on the primary
	// (pg_stat_replication.application_name).
	replicaAppName = "shortify-test-replica"
)

// Replica is a real streaming replica of the test PostgreSQL server,
// started by StartReplica for one test: a pg_basebackup of the primary in
// a directory of its own, run by the postgres binary of the primary's
// major version on a free port, in hot standby so that it serves reads.
// It is stopped and removed when the test ends.
type Replica struct {
	// Addr is the replica's 127.0.0.1:port.
	Addr string

	dir     string        // holds data/ and postgres.log
	proc    *os.Process   // the postmaster
	exited  chan struct{} // closed when the postmaster has exited
	waitErr error         // its exit status, once exited is closed
	stop    sync.Once
}

// StartReplica takes a base backup of the test primary (AdminDSN) and
// starts it as a streaming replica, returning once it streams WAL and
// accepts read-only connections. It fails the test, never skips, when it
// cannot: the primary must allow replication connections from this host
// (scripts/test-services.sh sets that up).
//
// PostgreSQL refuses to run as root, so when the tests run as root the
// backup and the server run as the postgres user, in a directory under
// the system's temporary directory that the user owns.
func StartReplica(tb testing.TB) *Replica {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaStartTimeout)
	defer cancel()
	start := time.Now()

	settings, err := primarySettings(ctx)
	if err != nil {
		tb.Fatalf("testenv: replica: %v", err)
	}
	bin, err := pgBinDir(settings["server_version_num"])
	if err != nil {
		tb.Fatalf("testenv: replica: %v", err)
	}
	cred, err := postgresCredential()
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
	if err := chown(dir, cred); err != nil {
		tb.Fatalf("testenv: replica: %v", err)
	}
	data := filepath.Join(dir, "data")

	src, err := url.Parse(AdminDSN())
	if err != nil {
		tb.Fatalf("testenv: replica: parse %s: %v", redact(AdminDSN()), err)
	}
	q := src.Query()
	q.Set("application_name", replicaAppName)
	src.RawQuery = q.Encode()
	backup := exec.CommandContext(ctx, filepath.Join(bin, "pg_basebackup"),
		"-d", src.String(), "-D", data,
		"-R",           // write standby.signal and primary_conninfo
		"-X", "stream", // the WAL written during the backup, so that it starts consistent
		"--checkpoint=fast", "--no-sync", "--no-manifest")
	runAs(backup, cred, dir)
	if out, err := backup.CombinedOutput(); err != nil {
		tb.Fatalf("testenv: replica: pg_basebackup from %s failed (does pg_hba.conf allow replication from 127.0.0.1? run scripts/test-services.sh): %v\n%s",
			redact(AdminDSN()), err, out)
	}
	backedUp := time.Since(start)

	r := &Replica{Addr: FreeAddr(tb), dir: dir, exited: make(chan struct{})}
	if err := r.configure(data, settings, cred); err != nil {
		tb.Fatalf("testenv: replica: %v", err)
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		tb.Fatalf("testenv: replica: %v", err)
	}
	defer logf.Close() // the server has its own copy of the descriptor
	srv := exec.Command(filepath.Join(bin, "postgres"), "-D", data)
	runAs(srv, cred, dir)
	srv.Stdout, srv.Stderr = logf, logf
	// Its own process group, so that a ^C to the test reaches it only
	// through Stop; and, where the system can, shut down with the test
	// process if that dies first (a test binary's timeout runs no Cleanup).
	srv.SysProcAttr.Setpgid = true
	dieWithParent(srv.SysProcAttr)
	if err := srv.Start(); err != nil {
		tb.Fatalf("testenv: replica: start %s: %v", srv.Path, err)
	}
	r.proc = srv.Process
	go func() {
		r.waitErr = srv.Wait()
		close(r.exited)
	}()
	tb.Cleanup(func() { r.Stop(tb) })

	if err := r.waitStreaming(ctx); err != nil {
		tb.Fatalf("testenv: replica on %s: %v\n%s", r.Addr, err, r.logTail())
	}
	tb.Logf("testenv: replica on %s streaming after %v (base backup %v)",
		r.Addr, time.Since(start).Round(time.Millisecond), backedUp.Round(time.Millisecond))
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
		select {
		case <-r.exited:
			return // it died on its own; the start or the test says why
		default:
		}
		if err := r.proc.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
			tb.Errorf("testenv: stop replica on %s: %v", r.Addr, err)
		}
		select {
		case <-r.exited:
		case <-time.After(replicaStopTimeout):
			syscall.Kill(-r.proc.Pid, syscall.SIGKILL) // the whole group
			<-r.exited
			tb.Errorf("testenv: replica on %s did not shut down within %v; killed\n%s", r.Addr, replicaStopTimeout, r.logTail())
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

// configure writes the replica's server settings and access rules into
// its data directory (the primary's own may live elsewhere, as on Debian).
func (r *Replica) configure(data string, primary map[string]string, cred *syscall.Credential) error {
	_, port, err := net.SplitHostPort(r.Addr)
	if err != nil {
		return err
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "listen_addresses = '127.0.0.1'\nport = %s\n", port)
	conf.WriteString("unix_socket_directories = ''\nhot_standby = on\nssl = off\n")
	// A throw-away server: no durability, little memory.
	conf.WriteString("fsync = off\nshared_buffers = 16MB\n")
	// A hot standby refuses to start with less of these than its primary.
	for _, name := range hotStandbyMinimums {
		fmt.Fprintf(&conf, "%s = %s\n", name, primary[name])
	}
	files := map[string]string{
		"postgresql.conf": conf.String(),
		"pg_hba.conf":     "host all all 127.0.0.1/32 trust\n",
	}
	for name, text := range files {
		p := filepath.Join(data, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			return err
		}
		if err := chown(p, cred); err != nil {
			return err
		}
	}
	return nil
}

// hotStandbyMinimums are the settings a hot standby needs at least as
// high as its primary's.
var hotStandbyMinimums = []string{
	"max_connections", "max_worker_processes", "max_wal_senders",
	"max_prepared_transactions", "max_locks_per_transaction",
}

// primarySettings reads the settings the replica must match, and checks
// that the primary can have a streaming replica at all.
func primarySettings(ctx context.Context) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, AdminDSN())
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s is not reachable (run the tests with `make test`, which starts it): %w", redact(AdminDSN()), err)
	}
	defer conn.Close(context.Background())
	names := append([]string{"server_version_num", "wal_level"}, hotStandbyMinimums...)
	rows, err := conn.Query(ctx, "SELECT name, setting FROM pg_settings WHERE name = ANY($1)", names)
	if err != nil {
		return nil, fmt.Errorf("read the primary's settings: %w", err)
	}
	settings := map[string]string{}
	var name, setting string
	if _, err := pgx.ForEachRow(rows, []any{&name, &setting}, func() error {
		settings[name] = setting
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read the primary's settings: %w", err)
	}
	for _, n := range names {
		if settings[n] == "" {
			return nil, fmt.Errorf("the primary has no setting %s", n)
		}
	}
	if settings["wal_level"] == "minimal" {
		return nil, errors.New("the primary has wal_level=minimal; a streaming replica needs replica")
	}
	if settings["max_wal_senders"] == "0" {
		return nil, errors.New("the primary has max_wal_senders=0; a streaming replica needs at least 1")
	}
	return settings, nil
}

// pgBinDir finds the directory of postgres and pg_basebackup for the
// primary's major version: SHORTIFY_TEST_PG_BIN, Debian's
// /usr/lib/postgresql/MAJOR/bin, or the PATH.
func pgBinDir(versionNum string) (string, error) {
	if d := os.Getenv("SHORTIFY_TEST_PG_BIN"); d != "" {
		return d, nil
	}
	v, err := strconv.Atoi(versionNum)
	if err != nil {
		return "", fmt.Errorf("primary server_version_num %q: %w", versionNum, err)
	}
	d := fmt.Sprintf("/usr/lib/postgresql/%d/bin", v/10000)
	if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
		return d, nil
	}
	p, err := exec.LookPath("postgres")
	if err != nil {
		return "", fmt.Errorf("no postgres binary for PostgreSQL %d in %s or the PATH (set SHORTIFY_TEST_PG_BIN)", v/10000, d)
	}
	return filepath.Dir(p), nil
}

// postgresCredential is who runs the replica: the postgres user when the
// tests run as root (PostgreSQL will not run as root), else nil, the
// current user.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("tests run as root, and PostgreSQL refuses to; no postgres user to run the replica as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func chown(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("hand %s to the postgres user: %w", path, err)
	}
	return nil
}

// runAs makes cmd run as cred (nil: the current user) with dir as its
// home, so that libpq looks for no password file in root's.
func runAs(cmd *exec.Cmd, cred *syscall.Credential, dir string) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.Dir = dir
}

// waitStreaming waits until the replica accepts connections, is in
// recovery, and its WAL receiver streams from the primary.
func (r *Replica) waitStreaming(ctx context.Context) error {
	var last error
	for {
		select {
		case <-r.exited:
			return fmt.Errorf("postgres exited during start-up: %v", r.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not streaming within %v: %v", replicaStartTimeout, last)
		default:
		}
		streaming, err := r.queryBool(ctx, "SELECT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')")
		if err == nil && streaming {
			return nil
		}
		if err == nil {
			err = errors.New("in recovery, WAL receiver not streaming yet")
		}
		last = err
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// query runs one statement on the replica's postgres database, scanning
// its one row into dest (none: the statement returns no row to read).
func (r *Replica) query(ctx context.Context, sql string, dest ...any) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, "postgres://postgres@"+r.Addr+"/postgres?sslmode=disable")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if len(dest) == 0 {
		_, err = conn.Exec(cctx, sql)
		return err
	}
	return conn.QueryRow(cctx, sql).Scan(dest...)
}

func (r *Replica) queryBool(ctx context.Context, sql string) (bool, error) {
	var v bool
	err := r.query(ctx, sql, &v)
	return v, err
}

func (r *Replica) exec(tb testing.TB, sql string) {
	tb.Helper()
	if err := r.query(tb.Context(), sql); err != nil {
		tb.Fatalf("testenv: replica on %s: %s: %v", r.Addr, sql, err)
	}
}

// poll runs a boolean query on the replica until it is true.
func (r *Replica) poll(tb testing.TB, what, sql string) {
	tb.Helper()
	deadline := time.Now().Add(replicaStartTimeout)
	for {
		ok, err := r.queryBool(tb.Context(), sql)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testenv: replica on %s: not %s within %v (last error: %v)", r.Addr, what, replicaStartTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logTail is the end of the replica's server log, for failure messages.
func (r *Replica) logTail() string {
	b, err := os.ReadFile(filepath.Join(r.dir, "postgres.log"))
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "server log:\n" + string(b)
}
