package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/smartlink"
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

func TestParseSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{"10000,1000000", []int{10000, 1000000}, false},
		{" 5 , 7 ", []int{5, 7}, false},
		{"", nil, false},
		{"  ", nil, false},
		{"0", nil, true},
		{"-3", nil, true},
		{"1e6", nil, true},
		{"10,", nil, true},
	} {
		got, err := parseSizes(tc.in)
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("parseSizes(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// TestSmartOptions checks that every smart link's options are what the
// stores and the edge accept, and what issue 16 asks the case to measure:
// three rules and a split.
func TestSmartOptions(t *testing.T) {
	for _, code := range []string{"a9ZkQ2", "000000", "zzzzzz"} {
		o := smartOptions(code)
		if err := o.Validate(); err != nil {
			t.Fatalf("smartOptions(%q): %v", code, err)
		}
		if len(o.Rules) != 3 || len(o.Targets) != 2 || !o.VisitorDependent() {
			t.Errorf("smartOptions(%q) = %+v, want 3 rules and a split", code, o)
		}
		b, err := o.MarshalStored()
		if err != nil || b == nil {
			t.Fatalf("MarshalStored = %q, %v", b, err)
		}
		back, err := smartlink.ParseStored(b)
		if err != nil || !reflect.DeepEqual(back, o) {
			t.Errorf("ParseStored(MarshalStored) = %+v, %v; want %+v", back, err, o)
		}
	}
}

func TestLinkSetSmart(t *testing.T) {
	const code = "abc123"
	plain, smart := linkSet{domainShare: 0.5}, linkSet{domainShare: 0.5, smart: true}
	for i := range 4 {
		if l := plain.link(i, code); !l.Smart.IsZero() {
			t.Errorf("plain link %d has options %+v", i, l.Smart)
		}
		p, s := plain.link(i, code), smart.link(i, code)
		if !reflect.DeepEqual(s.Smart, smartOptions(code)) {
			t.Errorf("smart link %d: options %+v, want smartOptions", i, s.Smart)
		}
		// Apart from the options, a smart link is the plain one.
		s.Smart = p.Smart
		if !reflect.DeepEqual(p, s) {
			t.Errorf("link %d: smart %+v, plain %+v: differ beyond the options", i, s, p)
		}
	}

	if urls, names := plain.urls(code), plain.choiceNames(); !slices.Equal(urls, []string{targetPrefix + code}) || !slices.Equal(names, []string{"url"}) {
		t.Errorf("plain: urls %q, names %q", urls, names)
	}
	urls, names := smart.urls(code), smart.choiceNames()
	if want := smartOptions(code).URLs(); !slices.Equal(urls, want) {
		t.Errorf("smart urls %q, want the options' %q", urls, want)
	}
	if want := []string{"rules[0]", "rules[1]", "rules[2]", "targets[0]", "targets[1]"}; !slices.Equal(names, want) {
		t.Errorf("smart choice names %q, want %q", names, want)
	}
	// A smart link with a split never sends anyone to its own URL: the
	// warm-up must refuse it, or an edge ignoring the options would pass.
	if slices.Contains(urls, targetPrefix+code) {
		t.Errorf("smart urls %q hold the link's own URL", urls)
	}
	seen := map[string]bool{}
	for _, u := range urls {
		if seen[u] {
			t.Errorf("smart urls %q: %q twice", urls, u)
		}
		seen[u] = true
	}
}

func TestCheckAcceptsAnyChoice(t *testing.T) {
	const code = "abc123"
	urls := linkSet{smart: true}.urls(code)
	for _, tc := range []struct {
		status  int
		loc     string
		wantPos int // -1: refused
	}{
		{http.StatusFound, urls[0], 0},
		{http.StatusFound, urls[3], 3},
		{http.StatusFound, urls[4], 4},
		{http.StatusFound, targetPrefix + code, -1}, // the link's own URL: the options were ignored
		{http.StatusMovedPermanently, urls[3], -1},
		{http.StatusNotFound, "", -1},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Host != customDomain || r.URL.Path != "/"+code {
				http.Error(w, "wrong request", http.StatusBadRequest)
				return
			}
			if tc.loc != "" {
				w.Header().Set("Location", tc.loc)
			}
			w.WriteHeader(tc.status)
		}))
		client, closeIdle := newClient(1)
		pos, err := check(t.Context(), client, srv.Listener.Addr().String(), customDomain, code, urls)
		closeIdle()
		srv.Close()
		switch {
		case tc.wantPos < 0 && err == nil:
			t.Errorf("%d to %q: accepted", tc.status, tc.loc)
		case tc.wantPos >= 0 && (err != nil || pos != tc.wantPos):
			t.Errorf("%d to %q: position %d, %v; want %d", tc.status, tc.loc, pos, err, tc.wantPos)
		}
	}
}

func TestRatioLines(t *testing.T) {
	run := func(rps float64, p99 time.Duration) result {
		return result{requests: int64(rps), duration: time.Second, p99: p99, cpu: time.Second}
	}
	for _, tc := range []struct {
		smart bool
		a     result
		want  []string
	}{
		{false, run(85, 10*time.Millisecond), []string{"ratio plain links=7:", "throughput A/B 0.85 (goal >= 0.90: NOT met)", "p99 A/B 1.00 (goal <= 1.2: met)"}},
		{false, run(95, 13*time.Millisecond), []string{"0.95 (goal >= 0.90: met)", "p99 A/B 1.30 (goal <= 1.2: NOT met)"}},
		{true, run(85, 30*time.Millisecond), []string{"ratio smart links=7:", "throughput A/B 0.85 (goal >= 0.80: met)", "p99 A/B 3.00 (no goal)"}},
		{true, run(75, 10*time.Millisecond), []string{"0.75 (goal >= 0.80: NOT met)"}},
	} {
		line := ratioLine(7, tc.smart, tc.a, run(100, 10*time.Millisecond))
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("ratioLine lacks %q:\n%s", w, line)
			}
		}
	}

	b := run(100, time.Millisecond)
	line := ratiosLine([]sizeResult{
		{links: 1000000, smart: true, a: run(82, time.Millisecond), b: b},
		{links: 10000, a: run(101, time.Millisecond), b: b},
		{links: 1000000, a: run(93, time.Millisecond), b: b},
	})
	want := "ratios A/B: plain links=10000 1.01 (goal >= 0.90: met); plain links=1000000 0.93 (goal >= 0.90: met); smart links=1000000 0.82 (goal >= 0.80: met)"
	if line != want {
		t.Errorf("ratiosLine =\n%s\nwant\n%s", line, want)
	}
}

func TestTallyLine(t *testing.T) {
	names := linkSet{smart: true}.choiceNames()
	got := tallyLine(names, []int64{0, 0, 0, 700, 300})
	want := "warm-up answers by choice: rules[0] 0.0%, rules[1] 0.0%, rules[2] 0.0%, targets[0] 70.0%, targets[1] 30.0%"
	if got != want {
		t.Errorf("tallyLine =\n%s\nwant\n%s", got, want)
	}
	if got := tallyLine([]string{"url"}, []int64{0}); got != "warm-up answers by choice: url 0.0%" {
		t.Errorf("tallyLine of nothing = %s", got)
	}
}
