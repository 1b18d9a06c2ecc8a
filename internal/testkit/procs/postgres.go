package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGStopTimeout bounds a fast shutdown of a PostgreSQL server before it is
// killed.
const PGStopTimeout = 30 * time.Second

// Postgres is a PostgreSQL server this process started: a private primary
// (InitPrimary) or a streaming replica (StartReplica). Its data directory
// is Dir/data and its log Dir/postgres.log.
type Postgres struct {
	// Addr is the server's 127.0.0.1:port.
	Addr string
	// Dir holds data/ and postgres.log: PGConfig.Dir, or the directory
	// it links to when the server's user could not reach it.
	Dir string

	*Process
}

// PGConfig says where and how a server runs.
type PGConfig struct {
	// Dir is the server's own directory (created; it must not hold a
	// data/ directory yet). When this process runs as root, the server
	// runs as the postgres user; if that user cannot enter Dir's parents,
	// the server's directory is made under the system's temporary
	// directory instead and Dir links to it (Postgres.Dir says where).
	Dir string
	// Addr is the 127.0.0.1:port to listen on.
	Addr string
	// BinDir holds postgres, initdb and pg_basebackup (PGBinDir).
	BinDir string
	// Settings are extra postgresql.conf lines, name to value.
	Settings map[string]string
	// TLS, when set, makes the server take TLS (ssl = on) with this
	// certificate; InitPrimary copies the files into the data directory,
	// for the server's user.
	TLS *PGTLS
}

// PGTLS are the PEM files of a server's certificate and key.
type PGTLS struct {
	CertFile, KeyFile string
}

// InitPrimary creates a new cluster with initdb (superuser postgres,
// trust authentication from 127.0.0.1, replication allowed), starts it,
// and returns once it accepts connections.
func InitPrimary(ctx context.Context, cfg PGConfig) (*Postgres, error) {
	cred, err := PostgresCredential()
	if err != nil {
		return nil, err
	}
	if cfg.Dir, err = serverDir(cfg.Dir, cred); err != nil {
		return nil, err
	}
	data := filepath.Join(cfg.Dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(cfg.BinDir, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions")
	RunAs(initdb, cred, cfg.Dir)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb %s: %w%s\n%s", data, err, permissionHint(err, cred), out)
	}
	settings := map[string]string{"wal_level": "replica", "max_wal_senders": "10", "wal_keep_size": "'64MB'"}
	if cfg.TLS != nil {
		if err := installTLS(data, *cfg.TLS, cred); err != nil {
			return nil, err
		}
		settings["ssl"] = "on"
		settings["ssl_cert_file"] = "'server.crt'"
		settings["ssl_key_file"] = "'server.key'"
	}
	for k, v := range cfg.Settings {
		settings[k] = v
	}
	if err := configure(data, cfg.Addr, settings, cred); err != nil {
		return nil, err
	}
	p, err := startPostgres(cfg, cred)
	if err != nil {
		return nil, err
	}
	if err := Poll(ctx, "PostgreSQL on "+cfg.Addr, 20*time.Millisecond, p.Process, func(ctx context.Context) error {
		return p.Query(ctx, "SELECT 1")
	}); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// ReplicaConfig is a PGConfig for StartReplica.
type ReplicaConfig struct {
	PGConfig
	// PrimaryDSN is a superuser (or replication) DSN of the primary.
	PrimaryDSN string
	// AppName names the replica's WAL receiver on the primary
	// (pg_stat_replication.application_name).
	AppName string
}

// StartReplica takes a base backup of the primary and starts it as a
// streaming hot standby, returning once it streams WAL and accepts
// read-only connections. The primary must allow replication connections
// from 127.0.0.1.
func StartReplica(ctx context.Context, cfg ReplicaConfig) (*Postgres, error) {
	cred, err := PostgresCredential()
	if err != nil {
		return nil, err
	}
	settings, err := PrimarySettings(ctx, cfg.PrimaryDSN)
	if err != nil {
		return nil, err
	}
	if cfg.Dir, err = serverDir(cfg.Dir, cred); err != nil {
		return nil, err
	}
	data := filepath.Join(cfg.Dir, "data")
	src, err := url.Parse(cfg.PrimaryDSN)
	if err != nil {
		return nil, fmt.Errorf("parse the primary's DSN %s: %w", Redact(cfg.PrimaryDSN), err)
	}
	q := src.Query()
	q.Set("application_name", cfg.AppName)
	src.RawQuery = q.Encode()
	// A backup can be cut off by the primary (it ended the backup's
	// temporary slot while other test packages wrote much WAL at once):
	// take it again, up to three times, within ctx. pg_basebackup removes
	// the data directory of a failed backup.
	for attempt := 1; ; attempt++ {
		backup := exec.CommandContext(ctx, filepath.Join(cfg.BinDir, "pg_basebackup"),
			"-d", src.String(), "-D", data,
			"-R",           // write standby.signal and primary_conninfo
			"-X", "stream", // the WAL written during the backup, so that it starts consistent
			"--checkpoint=fast", "--no-sync", "--no-manifest")
		RunAs(backup, cred, cfg.Dir)
		out, err := backup.CombinedOutput()
		if err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil || !bytes.Contains(out, []byte("unexpected termination of replication stream")) {
			return nil, fmt.Errorf("pg_basebackup from %s failed (does pg_hba.conf allow replication from 127.0.0.1?): %w\n%s",
				Redact(cfg.PrimaryDSN), err, out)
		}
	}
	conf := map[string]string{"hot_standby": "on"}
	// A hot standby refuses to start with less of these than its primary.
	for _, name := range hotStandbyMinimums {
		conf[name] = settings[name]
	}
	for k, v := range cfg.Settings {
		conf[k] = v
	}
	if err := configure(data, cfg.Addr, conf, cred); err != nil {
		return nil, err
	}
	r, err := startPostgres(cfg.PGConfig, cred)
	if err != nil {
		return nil, err
	}
	if err := Poll(ctx, "the replica on "+cfg.Addr+" to stream", 20*time.Millisecond, r.Process, func(ctx context.Context) error {
		var streaming bool
		err := r.Query(ctx, "SELECT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')", &streaming)
		if err == nil && !streaming {
			err = errors.New("in recovery, WAL receiver not streaming yet")
		}
		return err
	}); err != nil {
		r.Kill()
		return nil, err
	}
	return r, nil
}

// DSN returns a DSN of database on this server as user postgres.
func (p *Postgres) DSN(database string) string {
	return "postgres://postgres@" + p.Addr + "/" + database + "?sslmode=disable"
}

// Stop shuts the server down fast (sessions are ended) and waits for it.
func (p *Postgres) Stop() error { return p.Process.Stop(syscall.SIGINT, PGStopTimeout) }

// Query runs one statement on the server's postgres database, scanning
// its one row into dest (none: the statement returns no row to read).
func (p *Postgres) Query(ctx context.Context, sql string, dest ...any) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, p.DSN("postgres"))
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

func startPostgres(cfg PGConfig, cred *syscall.Credential) (*Postgres, error) {
	cmd := exec.Command(filepath.Join(cfg.BinDir, "postgres"), "-D", filepath.Join(cfg.Dir, "data"))
	RunAs(cmd, cred, cfg.Dir)
	proc, err := Start("postgres on "+cfg.Addr, cmd, filepath.Join(cfg.Dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	return &Postgres{Addr: cfg.Addr, Dir: cfg.Dir, Process: proc}, nil
}

// configure writes the server's settings and access rules into its data
// directory (a primary's own may live elsewhere, as on Debian).
func configure(data, addr string, settings map[string]string, cred *syscall.Credential) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("PostgreSQL address %q: %w", addr, err)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "listen_addresses = '127.0.0.1'\nport = %s\n", port)
	conf.WriteString("unix_socket_directories = ''\n")
	if _, ok := settings["ssl"]; !ok {
		conf.WriteString("ssl = off\n")
	}
	// A server on a developer's machine: no durability, little memory.
	conf.WriteString("fsync = off\nshared_buffers = 16MB\n")
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&conf, "%s = %s\n", k, settings[k])
	}
	files := map[string]string{
		"postgresql.conf": conf.String(),
		"pg_hba.conf":     "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
	}
	for name, text := range files {
		p := filepath.Join(data, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			return fmt.Errorf("configure PostgreSQL: %w", err)
		}
		if err := chown(p, cred); err != nil {
			return err
		}
	}
	return nil
}

// installTLS copies a certificate and its key into the data directory as
// server.crt and server.key, owned by the server's user: PostgreSQL
// refuses a key that others can read.
func installTLS(data string, t PGTLS, cred *syscall.Credential) error {
	for src, name := range map[string]string{t.CertFile: "server.crt", t.KeyFile: "server.key"} {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("PostgreSQL TLS: %w", err)
		}
		dst := filepath.Join(data, name)
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return fmt.Errorf("PostgreSQL TLS: %w", err)
		}
		if err := chown(dst, cred); err != nil {
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

// PrimarySettings reads the settings a replica must match (and
// server_version_num), and checks that the primary can have a streaming
// replica at all.
func PrimarySettings(ctx context.Context, dsn string) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s is not reachable: %w", Redact(dsn), err)
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

// PGBinDir finds the directory of postgres, initdb and pg_basebackup:
// SHORTIFY_TEST_PG_BIN, Debian's /usr/lib/postgresql/MAJOR/bin for
// versionNum's major version (the newest installed when versionNum is
// ""), or the PATH.
func PGBinDir(versionNum string) (string, error) {
	if d := os.Getenv("SHORTIFY_TEST_PG_BIN"); d != "" {
		return d, nil
	}
	want := "the installed PostgreSQL"
	var d string
	if versionNum == "" {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
		sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
		if len(dirs) > 0 {
			return filepath.Dir(dirs[0]), nil
		}
	} else {
		v, err := strconv.Atoi(versionNum)
		if err != nil {
			return "", fmt.Errorf("server_version_num %q: %w", versionNum, err)
		}
		want = fmt.Sprintf("PostgreSQL %d", v/10000)
		d = fmt.Sprintf("/usr/lib/postgresql/%d/bin", v/10000)
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	p, err := exec.LookPath("postgres")
	if err != nil {
		return "", fmt.Errorf("no postgres binary for %s in /usr/lib/postgresql or the PATH (set SHORTIFY_TEST_PG_BIN)", want)
	}
	return filepath.Dir(p), nil
}

// majorOf is the major version in /usr/lib/postgresql/MAJOR/bin/postgres.
func majorOf(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// PostgresCredential is who runs PostgreSQL: the postgres user when this
// process runs as root (PostgreSQL will not run as root), else nil, the
// current user.
func PostgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to; no postgres user to run it as: %w", err)
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

// makeDir creates dir for a server run as cred.
func makeDir(dir string, cred *syscall.Credential) error {
	// Parents open to all, so that the postgres user gets through them.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("PostgreSQL directory: %w", err)
	}
	return chown(dir, cred)
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

// RunAs makes cmd run as cred (nil: the current user) in dir, with dir as
// its home, so that libpq looks for no password file in root's.
func RunAs(cmd *exec.Cmd, cred *syscall.Credential, dir string) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = new(syscall.SysProcAttr)
	}
	cmd.SysProcAttr.Credential = cred
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.Dir = dir
}

// Redact hides the password of a URL-form DSN, for messages.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}
