package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := `Running 8s test @ http://127.0.0.1:4000/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms    2.00ms  40.00ms   95.00%
Requests/sec:  50000.00
BENCH requests=400000 duration_us=8000000 p50_us=900 p99_us=4500 max_us=40000 connect=0 read=0 write=0 status=3 timeout=0 sent=400064 custom=200032
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 400000 || r.rps() != 50000 || r.p50 != 900*time.Microsecond ||
		r.p99 != 4500*time.Microsecond || r.max != 40*time.Millisecond || r.errors["status"] != 3 || r.customShare() != 0.5 {
		t.Errorf("parseWrk = %+v", r)
	}

	for _, bad := range []string{
		"Requests/sec: 5\n", // no BENCH line
		"BENCH requests=1 duration_us=0 p50_us=1 p99_us=1 max_us=1\n",                 // zero duration
		"BENCH requests=x duration_us=1 p50_us=1 p99_us=1 max_us=1\n",                 // not a number
		"BENCH requests=1 duration_us=1 p50_us=1\n",                                   // missing fields
		"BENCH requests=1 duration_us=1 p50_us=1 p99_us=1 max_us=1 sent=1 custom=2\n", // more custom than sent
	} {
		if _, err := parseWrk(bad); err == nil {
			t.Errorf("parseWrk(%q): no error", bad)
		}
	}
}

func TestCPUTime(t *testing.T) {
	// Burn some CPU so that this process has used at least one tick.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = strings.Repeat("x", x%64)
	}
	d, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("cpuTime = %s, want > 0", d)
	}
}

func TestMakeCodesDistinct(t *testing.T) {
	codes, err := makeCodes(10000)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool, len(codes))
	for _, c := range codes {
		if len(c) != 6 || seen[c] {
			t.Fatalf("code %q: want 6 characters, distinct", c)
		}
		seen[c] = true
	}
}

func TestShortifyOptionsBody(t *testing.T) {
	body := shortifyOptions{
		database: "postgres://db/x", redis: "127.0.0.1:6379", redisPrefix: "p:",
		cacheSize: 10, cacheTTL: "1h", hosts: "s.bench.example", kafkaOption: "kafka_brokers", kafkaAddr: "127.0.0.1:9092",
	}.body()
	for _, want := range []string{"shortify_edge {", "database postgres://db/x", "redis 127.0.0.1:6379", "redis_prefix p:", "cache_size 10", "cache_ttl 1h", "hosts s.bench.example", "kafka_brokers 127.0.0.1:9092"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if body := (shortifyOptions{database: "d", cacheSize: 1, cacheTTL: "1ms"}).body(); strings.Contains(body, "redis") || strings.Contains(body, "kafka") || strings.Contains(body, "hosts") {
		t.Errorf("body without Redis or Kafka mentions them:\n%s", body)
	}
}

func TestLinkSetShare(t *testing.T) {
	for _, tc := range []struct {
		share float64
		n     int
		want  int // links on the custom domain
	}{
		{0, 1000, 0},
		{0.5, 1000, 500},
		{0.25, 1000, 250},
		{0.1, 10000, 1000},
		{1, 1000, 1000},
	} {
		s := linkSet{domainShare: tc.share}
		got := 0
		for i := range tc.n {
			l := s.link(i, "abc123")
			switch {
			case s.onDomain(i):
				got++
				if l.Domain != customDomain || l.WorkspaceID != customWorkspace || s.host(i) != customDomain {
					t.Errorf("share %v, link %d: domain %q, workspace %d, host %q; want the custom domain", tc.share, i, l.Domain, l.WorkspaceID, s.host(i))
				}
			case l.Domain != "" || l.WorkspaceID != 1 || s.host(i) != ownHost:
				t.Errorf("share %v, link %d: domain %q, workspace %d, host %q; want the own host", tc.share, i, l.Domain, l.WorkspaceID, s.host(i))
			}
		}
		if got != tc.want {
			t.Errorf("share %v of %d links: %d on the custom domain, want %d", tc.share, tc.n, got, tc.want)
		}
	}
	// Half: every other link, so that any slice of the codes mixes both.
	s := linkSet{domainShare: 0.5}
	if s.onDomain(0) == s.onDomain(1) || s.onDomain(1) == s.onDomain(2) {
		t.Error("share 0.5: links 0, 1, 2 do not alternate")
	}
}

func TestWriteCodes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "codes.txt")
	if err := writeCodes(path, linkSet{domainShare: 0.5}, []string{"aaaaaa", "bbbbbb", "cccccc", "dddddd"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "s.bench.example aaaaaa\ngo.bench.example bbbbbb\ns.bench.example cccccc\ngo.bench.example dddddd\n"
	if string(b) != want {
		t.Errorf("codes file:\n%s\nwant:\n%s", b, want)
	}
}

func TestSiteBlockAnswersEveryHost(t *testing.T) {
	cf := siteBlock("127.0.0.1:4567", "\tredir * https://example.com/ 302")
	for _, want := range []string{"http://:4567 {", "bind 127.0.0.1", "redir * https://example.com/ 302", "auto_https off"} {
		if !strings.Contains(cf, want) {
			t.Errorf("Caddyfile lacks %q:\n%s", want, cf)
		}
	}
}
