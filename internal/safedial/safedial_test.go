package safedial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/ipclass"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestPublic(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"2606:4700:4700::1111", true},
		{"2a00:1450:4001:80b::200e", true},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::808:808", true},  // NAT64 of 8.8.8.8
		{"2002:808:808::1", true},   // 6to4 of 8.8.8.8
		{"127.0.0.1", false},        // loopback
		{"127.255.255.254", false},  // loopback
		{"10.1.2.3", false},         // RFC 1918
		{"172.16.0.1", false},       // RFC 1918
		{"172.31.255.255", false},   // RFC 1918
		{"192.168.1.1", false},      // RFC 1918
		{"100.64.0.1", false},       // CGNAT
		{"100.127.255.255", false},  // CGNAT
		{"169.254.169.254", false},  // link-local, cloud metadata
		{"169.254.1.1", false},      // link-local
		{"224.0.0.1", false},        // multicast
		{"239.255.255.250", false},  // multicast
		{"0.0.0.0", false},          // unspecified
		{"0.1.2.3", false},          // this network
		{"255.255.255.255", false},  // broadcast
		{"240.0.0.1", false},        // reserved
		{"192.0.0.8", false},        // IETF protocol assignments
		{"198.18.0.1", false},       // benchmarking
		{"198.19.255.255", false},   // benchmarking
		{"192.0.2.1", false},        // TEST-NET-1
		{"198.51.100.1", false},     // TEST-NET-2
		{"203.0.113.1", false},      // TEST-NET-3
		{"192.88.99.1", false},      // 6to4 relay anycast
		{"::", false},               // unspecified
		{"::1", false},              // loopback
		{"fc00::1", false},          // ULA
		{"fd12:3456::1", false},     // ULA
		{"fe80::1", false},          // link-local
		{"fe80::1%eth0", false},     // link-local with a zone
		{"fec0::1", false},          // site-local
		{"ff02::1", false},          // multicast
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:10.0.0.1", false},  // IPv4-mapped private
		{"::ffff:169.254.169.254", false},
		{"::127.0.0.1", false},        // IPv4-compatible
		{"::ffff:0:a00:1", false},     // IPv4-translated 10.0.0.1
		{"64:ff9b::7f00:1", false},    // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"64:ff9b:1::808:808", false}, // local-use NAT64
		{"2002:7f00:1::1", false},     // 6to4 of 127.0.0.1
		{"2002:a00:1::1", false},      // 6to4 of 10.0.0.1
		{"2001:db8::1", false},        // documentation
		{"3fff::1", false},            // documentation
		{"2001::1", false},            // Teredo
		{"2001:2::1", false},          // benchmarking
		{"100::1", false},             // discard-only
		{"5f00::1", false},            // SRv6
		{"4000::1", false},            // outside global unicast
		{"fd00:ec2::254", false},      // AWS IMDS (ULA)
	}
	for _, tt := range tests {
		if got := Public(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Public(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	if Public(netip.Addr{}) {
		t.Error("Public(zero Addr) = true")
	}
}

// TestAllowPrivate: the switch opens private unicast, never metadata,
// multicast or the unspecified address, and Deny wins over it.
func TestAllowPrivate(t *testing.T) {
	o := Options{AllowPrivate: true, Deny: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}}
	for ip, want := range map[string]bool{
		"127.0.0.1":          true,
		"::1":                true,
		"10.1.2.3":           true,
		"fd12::1":            true,
		"10.9.1.1":           false,
		"::ffff:10.9.1.1":    false,
		"169.254.169.254":    false,
		"64:ff9b::a9fe:a9fe": false,
		"fd00:ec2::254":      false,
		"2002:a9fe:a9fe::1":  false, // 6to4 of the metadata endpoint
		"0.0.0.0":            false,
		"::":                 false,
		"224.0.0.1":          false,
		"255.255.255.255":    false,
		"8.8.8.8":            true,
	} {
		if got := o.refused(netip.MustParseAddr(ip)) == ""; got != want {
			t.Errorf("AllowPrivate: %s allowed = %v, want %v", ip, got, want)
		}
	}
}

// server starts a loopback HTTP server: /hop/N redirects to /hop/N-1,
// /hop/0 answers "ok".
func server(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, ok := strings.CutPrefix(r.URL.Path, "/hop/"); ok {
			i, _ := strconv.Atoi(n)
			if i > 0 {
				http.Redirect(w, r, fmt.Sprintf("/hop/%d", i-1), http.StatusFound)
				return
			}
		}
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// get fetches url with c and returns the body or the error.
func get(t *testing.T, c *http.Client, url string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestClientRefusesLoopback(t *testing.T) {
	srv := server(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, url := range []string{
		srv.URL,
		"http://localhost:" + port + "/", // a name resolving to 127.0.0.1: refused at connect time
		"http://[::ffff:127.0.0.1]:" + port + "/",
	} {
		body, err := get(t, Client(Options{}), url)
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("GET %s = %q, %v; want ErrForbiddenAddress", url, body, err)
		}
	}
}

func TestClientAllowPrivate(t *testing.T) {
	srv := server(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := Client(Options{AllowPrivate: true})
	for _, url := range []string{srv.URL, "http://localhost:" + port + "/"} {
		if body, err := get(t, c, url); err != nil || body != "ok" {
			t.Errorf("GET %s with AllowPrivate = %q, %v; want ok", url, body, err)
		}
	}
	// Deny still refuses the listener with AllowPrivate.
	deny := Client(Options{AllowPrivate: true, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if _, err := get(t, deny, srv.URL); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("GET a denied listener = %v; want ErrForbiddenAddress", err)
	}
}

func TestClientRedirects(t *testing.T) {
	srv := server(t)
	c := Client(Options{AllowPrivate: true})
	if body, err := get(t, c, srv.URL+"/hop/3"); err != nil || body != "ok" {
		t.Fatalf("3 redirects = %q, %v; want ok", body, err)
	}
	if _, err := get(t, c, srv.URL+"/hop/4"); !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("4 redirects = %v; want ErrTooManyRedirects", err)
	}
	one := Client(Options{AllowPrivate: true, MaxRedirects: 1})
	if _, err := get(t, one, srv.URL+"/hop/2"); !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("2 redirects with MaxRedirects 1 = %v; want ErrTooManyRedirects", err)
	}
	none := Client(Options{AllowPrivate: true, MaxRedirects: -1})
	if _, err := get(t, none, srv.URL+"/hop/1"); !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("a redirect with MaxRedirects -1 = %v; want ErrTooManyRedirects", err)
	}
	// Every hop is dialled through the check: a redirect to a denied
	// address fails at connect time (127.0.0.2 is loopback on Linux).
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	hop := Client(Options{AllowPrivate: true, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	if _, err := get(t, hop, srv.URL+"/?to=http://127.0.0.2:"+port+"/"); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("a redirect to a denied address = %v; want ErrForbiddenAddress", err)
	}
}

// TestClientIgnoresProxyEnv: a proxy from the environment would dial for
// the client, past the check.
func TestClientIgnoresProxyEnv(t *testing.T) {
	proxy := server(t)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	if _, err := get(t, Client(Options{}), "http://127.0.0.1:9/"); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("GET through an environment proxy = %v; want ErrForbiddenAddress", err)
	}
}

func TestDialerRefuses(t *testing.T) {
	srv := server(t)
	_, err := Dialer(Options{}).DialContext(context.Background(), "tcp", srv.Listener.Addr().String())
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("Dial loopback = %v; want ErrForbiddenAddress", err)
	}
	conn, err := Dialer(Options{AllowPrivate: true}).DialContext(context.Background(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("Dial loopback with AllowPrivate: %v", err)
	}
	conn.Close()
}

// FuzzPublic: an IPv4 address and its IPv4-mapped, NAT64 and 6to4 forms
// are judged alike, a public address is no special one, and the
// connect-time check never panics on any address string.
func FuzzPublic(f *testing.F) {
	for _, s := range []string{"8.8.8.8", "127.0.0.1", "10.0.0.1", "169.254.169.254", "192.0.2.1", "0.0.0.0", "255.255.255.255"} {
		f.Add(netip.MustParseAddr(s).AsSlice(), "["+s+"]:80")
	}
	f.Add([]byte{}, "[::ffff:127.0.0.1]:80")
	f.Add([]byte{}, "junk")
	f.Fuzz(func(t *testing.T, b []byte, address string) {
		_ = Options{}.control("tcp", address, nil) // must not panic
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		if Public(a) && ipclass.Special(a) != "" {
			t.Fatalf("Public(%s) but special: %s", a, ipclass.Special(a))
		}
		if !a.Is4() {
			return
		}
		v4 := a.As4()
		mapped := netip.AddrFrom16(a.As16())
		nat64 := netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: v4[0], v4[1], v4[2], v4[3]})
		sixToFour := netip.AddrFrom16([16]byte{0x20, 0x02, v4[0], v4[1], v4[2], v4[3], 15: 1})
		for _, other := range []netip.Addr{mapped, nat64, sixToFour} {
			if Public(other) != Public(a) {
				t.Fatalf("Public(%s) = %v but Public(%s) = %v", a, Public(a), other, Public(other))
			}
		}
		if err := (Options{}).control("tcp", netip.AddrPortFrom(mapped, 80).String(), nil); (err == nil) != Public(a) {
			t.Fatalf("control(%s) = %v, Public = %v", mapped, err, Public(a))
		}
	})
}
