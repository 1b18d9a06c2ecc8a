package cli_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/cli"
	"github.com/shortify/shortify/internal/testkit/apitest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// now is the CLI's clock in the tests (relative expiries).
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// result is what one command run printed, and its exit code.
type result struct {
	code        int
	out, errOut string
}

// session runs commands as a user of one server with one key would,
// the server and key in the environment (SHORTIFY_URL, SHORTIFY_API_KEY).
type session struct {
	t     *testing.T
	env   map[string]string
	stdin string
	// interactive makes the Env a terminal's: prompts and confirmations.
	interactive bool
}

func newSession(t *testing.T, server, key string) *session {
	return &session{t: t, env: map[string]string{cli.EnvServer: server, cli.EnvKey: key}}
}

// run runs the CLI in process with args and returns what it printed.
func (s *session) run(args ...string) result {
	s.t.Helper()
	var out, errOut bytes.Buffer
	e := &cli.Env{Stdin: strings.NewReader(s.stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return s.env[k] }, Interactive: s.interactive, Now: func() time.Time { return now }}
	code := cli.Execute(s.t.Context(), e, args)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// ok runs args, failing the test unless the exit code is 0.
func (s *session) ok(args ...string) string {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("shortify %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.out, r.errOut)
	}
	return r.out
}

// fails runs args and checks the exit code and that stderr says want.
func (s *session) fails(code int, want string, args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	if r.code != code || !strings.Contains(r.errOut, want) {
		s.t.Fatalf("shortify %s: exit %d, want %d with %q on stderr\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, want, r.out, r.errOut)
	}
	return r
}

// decode parses a command's JSON output into v.
func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is no JSON of %T: %v\n%s", v, err, out)
	}
	return v
}

// serveSQLite is the APIs over a SQLite link store.
func serveSQLite(t *testing.T) *apitest.Server { return apitest.Serve(t, teststore.SQLite(t)) }

// servePostgres is the APIs over a PostgreSQL link store of the test's own.
func servePostgres(t *testing.T) *apitest.Server {
	return apitest.Serve(t, teststore.Postgres(t, testenv.Schema(t)))
}
