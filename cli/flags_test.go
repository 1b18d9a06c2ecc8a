package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shortify/shortify/cli"
)

// recorder is a loopback HTTP server that keeps the requests it gets and
// answers each with an empty link: what the flags turn into on the wire.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	url  string
}

type recorded struct {
	method, path, query string
	auth, workspace     string
	body                map[string]json.RawMessage
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got := recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
			auth: r.Header.Get("Authorization"), workspace: r.Header.Get("Shortify-Workspace")}
		if len(b) > 0 {
			if err := json.Unmarshal(b, &got.body); err != nil {
				t.Errorf("%s %s: body %q: %v", r.Method, r.URL, b, err)
			}
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, got)
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"code":"c","url":"https://example.com/"}`)
	}))
	t.Cleanup(srv.Close)
	rec.url = srv.URL
	return rec
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// TestUsageErrors: a wrong command line is a usage error (exit 2) that
// says what is wrong, and nothing reaches the server.
func TestUsageErrors(t *testing.T) {
	rec := newRecorder(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
		env  map[string]string
	}{
		{"missing argument", []string{"links", "create"}, "links create needs URL", nil},
		{"extra argument", []string{"links", "get", "a", "b"}, "takes 1 argument(s), got 2", nil},
		{"unknown flag", []string{"links", "list", "--colour"}, "unknown flag: --colour", nil},
		{"bad number", []string{"links", "list", "--limit", "many"}, `invalid argument "many" for "--limit"`, nil},
		{"zero limit", []string{"links", "list", "--limit", "0"}, "--limit must be at least 1", nil},
		{"unknown subcommand", []string{"links", "frob"}, `unknown command "frob" for "shortify links"`, nil},
		{"unknown command", []string{"linkz"}, `unknown command "linkz"`, nil},
		{"bad expiry", []string{"links", "create", "https://example.com/", "--expires", "soon"}, `--expires: "soon" is no RFC 3339 time`, nil},
		{"past expiry", []string{"links", "create", "https://example.com/", "--expires", "0d"}, "must be after now", nil},
		{"nothing to change", []string{"links", "update", "c"}, "nothing to change", nil},
		{"only the domain", []string{"links", "update", "c", "--domain", "go.example"}, "nothing to change", nil},
		{"contradiction", []string{"links", "update", "c", "--disable", "--enable"}, "--disable and --enable contradict", nil},
		{"tags and none", []string{"links", "update", "c", "--tag", "a", "--clear-tags"}, "--tag and --clear-tags contradict", nil},
		{"empty password", []string{"links", "update", "c", "--password", ""}, "use --no-password", nil},
		{"export format", []string{"export", "--format", "xml"}, "--format must be csv or jsonl", nil},
		{"keys without role", []string{"keys", "create", "--name", "ci"}, "needs --name and --role", nil},
		{"no key", []string{"links", "list"}, "no API key: set --key or SHORTIFY_API_KEY", map[string]string{cli.EnvServer: rec.url}},
		{"bad server", []string{"links", "list"}, "--server (or SHORTIFY_URL)", map[string]string{cli.EnvServer: "localhost:8080", cli.EnvKey: "k"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(t, rec.url, "sk_test_key")
			if tc.env != nil {
				s.env = tc.env
			}
			r := s.fails(cli.ExitUsage, tc.want, tc.args...)
			if !strings.Contains(r.errOut, "--help' for usage.") {
				t.Errorf("no pointer to --help: %q", r.errOut)
			}
		})
	}
	if reqs := rec.requests(); len(reqs) != 0 {
		t.Fatalf("usage errors sent %+v", reqs)
	}
}

// TestUpdateSendsOnlyTheFlagsSet: a PATCH carries the fields whose flags
// were given, and clears with null what a --no-* flag removes.
func TestUpdateSendsOnlyTheFlagsSet(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		query string
		want  map[string]string // field: JSON
	}{
		{[]string{"--url", "https://example.com/new"}, "", map[string]string{"url": `"https://example.com/new"`}},
		{[]string{"--title", "", "--notes", "n"}, "", map[string]string{"title": `""`, "notes": `"n"`}},
		{[]string{"--tag", "a", "--tag", "b,c"}, "", map[string]string{"tags": `["a","b,c"]`}},
		{[]string{"--clear-tags"}, "", map[string]string{"tags": `[]`}},
		{[]string{"--expires", "2026-12-31"}, "", map[string]string{"expires_at": `"2026-12-31T00:00:00Z"`}},
		{[]string{"--expires", "1w"}, "", map[string]string{"expires_at": `"2026-11-27T12:00:00Z"`}},
		{[]string{"--no-expiry"}, "", map[string]string{"expires_at": `null`}},
		{[]string{"--expires", "never"}, "", map[string]string{"expires_at": `null`}},
		{[]string{"--disable"}, "", map[string]string{"disabled": `true`}},
		{[]string{"--enable", "--status", "308"}, "", map[string]string{"disabled": `false`, "redirect_status": `308`}},
		{[]string{"--no-password"}, "", map[string]string{"password": `null`}},
		{[]string{"--password", "pw"}, "", map[string]string{"password": `"pw"`}},
		{[]string{"--max-clicks", "0", "--expired-url", ""}, "", map[string]string{"max_clicks": `null`, "expired_url": `null`}},
		{[]string{"--max-clicks", "10", "--domain", "go.example"}, "domain=go.example", map[string]string{"max_clicks": `10`}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			rec := newRecorder(t)
			s := newSession(t, rec.url, "sk_test_key")
			s.ok(append([]string{"links", "update", "c"}, tc.args...)...)
			reqs := rec.requests()
			if len(reqs) != 1 || reqs[0].method != http.MethodPatch || reqs[0].path != "/api/v1/links/c" || reqs[0].query != tc.query {
				t.Fatalf("requests %+v", reqs)
			}
			got := map[string]string{}
			for k, v := range reqs[0].body {
				got[k] = string(v)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("sent %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("sent %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestFlagsOverEnvironment: --server, --key and --workspace win over the
// environment, which wins over the defaults.
func TestFlagsOverEnvironment(t *testing.T) {
	rec := newRecorder(t)
	s := newSession(t, "http://127.0.0.1:1", "sk_env_key")
	s.env[cli.EnvWorkspace] = "from-env"
	s.ok("links", "get", "c", "--server", rec.url, "--workspace", "acme")
	s.ok("links", "get", "d", "--server", rec.url, "--key", "sk_flag_key")
	reqs := rec.requests()
	if len(reqs) != 2 || reqs[0].path != "/api/v1/links/c" || reqs[0].auth != "Bearer sk_env_key" || reqs[0].workspace != "acme" ||
		reqs[1].auth != "Bearer sk_flag_key" || reqs[1].workspace != "from-env" {
		t.Fatalf("requests %+v", reqs)
	}
	e := &cli.Env{Getenv: func(k string) string { return map[string]string{cli.EnvKey: "k", cli.EnvWorkspace: "w"}[k] }}
	cmd := cli.Root(e)
	sub, _, err := cmd.Find([]string{"links", "list"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.ParseFlags([]string{"--workspace", "flag"}); err != nil {
		t.Fatal(err)
	}
	if o := e.Options(sub); o.Server != cli.DefaultServer || o.Key != "k" || o.Workspace != "flag" || o.JSON {
		t.Fatalf("options %+v", o)
	}
}
