package e2e

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// raw writes a raw.jsonl case to a TCP socket as it is and reads what
// comes back until the server closes the connection: at most
// c.MaxResponses responses (a split response would be one more), each
// checked like any other answer.
func (h *hostileRun) raw(t *testing.T, c hostileCase) {
	t.Helper()
	what := "raw " + c.Why
	msg := h.expand(c.Raw)
	data := []byte(msg)
	if c.Latin1 {
		data = data[:0:0]
		for _, r := range msg {
			if r > 0xff {
				t.Fatalf("%s: latin1 case with %q", what, r)
			}
			data = append(data, byte(r))
		}
	}
	u, _ := url.Parse(h.s.base)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// The server may answer and close before it has read everything (a
	// 431 for a huge header): a failed write is no failure.
	go func() { _, _ = conn.Write(data) }()
	br := bufio.NewReader(conn)
	maxResp := max(c.MaxResponses, 1)
	n := 0
	for {
		if _, err := br.Peek(1); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("%s: the server kept the connection open after %d responses", what, n)
			}
			break
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			rest, _ := io.ReadAll(io.LimitReader(br, 300))
			t.Errorf("%s: after %d responses, bytes that are no response: %v %q", what, n, err, rest)
			break
		}
		// A server that closes after an error answer may reset the
		// connection under the last bytes of its body: no failure.
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		n++
		path := "/"
		if i := strings.IndexByte(msg, ' '); i >= 0 {
			path, _, _ = strings.Cut(msg[i+1:], " ")
		}
		h.check(t, what, path, false, resp, body, "any", c.AllowStatus)
		method, _, _ := strings.Cut(msg, " ")
		h.rememberAnswer(t, method, path, resp.StatusCode, body)
	}
	if n == 0 {
		t.Logf("%s: the server closed the connection without an answer", what)
	}
	if n > maxResp {
		t.Errorf("%s: %d responses, want at most %d (a split response?)", what, n, maxResp)
	}
}

// h2cSlowHeaders is the start of an HTTP/2 connection with prior
// knowledge (h2c): the preface, an empty SETTINGS frame, and the header
// of a HEADERS frame of 100 bytes for stream 1, whose bytes then come
// one at a time.
const h2cSlowHeaders = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
	"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + // SETTINGS, empty
	"\x00\x00\x64\x01\x04\x00\x00\x00\x01" // HEADERS, 100 bytes, END_HEADERS, stream 1

// slowHeader sends start, then one byte every 250 ms, so that the
// request's header never ends, and checks that the server closes the
// connection within 7 s (read_header 5s in the Caddyfile) instead of
// waiting for it.
func slowHeader(t *testing.T, s *system, start string) {
	u, _ := url.Parse(s.base)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begin := time.Now()
	if _, err := io.WriteString(conn, strings.ReplaceAll(start, "{host}", u.Host)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		// The server either answers (a 408) and closes, or just closes.
		_, err := io.Copy(io.Discard, conn)
		closed <- err
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(7 * time.Second)
	defer limit.Stop()
	for {
		select {
		case err := <-closed:
			t.Logf("the server closed the slow header's connection after %v (%v)", time.Since(begin).Round(time.Millisecond), err)
			return
		case <-limit.C:
			t.Fatalf("the server still reads a header dribbled for %v", time.Since(begin).Round(time.Millisecond))
		case <-tick.C:
			_, _ = conn.Write([]byte("a")) // fails once the server has closed
		}
	}
}

// spoofedClients: anonymous creates from one client, each claiming
// another address in X-Forwarded-For (some hostile), share one budget of
// 10: the make run default trusts no proxy. (With Redis the budget is
// shared with whatever else runs: fewer than 10 may succeed.)
func spoofedClients(t *testing.T, h *hostileRun) {
	created := 0
	spoofs := []string{"10.0.0.1", "<script>alert(1)</script>", "1.1.1.1, 2.2.2.2", "::1", "999.999.999.999",
		"unknown", "", "127.0.0.2", "8.8.8.8", "203.0.113.9", "198.51.100.1", "192.0.2.1"}
	for i, xff := range spoofs {
		req, _ := http.NewRequest("POST", h.s.base+"/api/v1/links", strings.NewReader(`{"url":"https://example.com/anon"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		what := "anonymous create " + strconv.Itoa(i+1) + " claiming " + xff
		h.check(t, what, "/api/v1/links", true, resp, body, "any", 0)
		h.rememberAnswer(t, "POST", "/api/v1/links", resp.StatusCode, body)
		switch resp.StatusCode {
		case http.StatusCreated:
			created++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("%s: %d, want 201 or 429", what, resp.StatusCode)
		}
	}
	if created > 10 {
		t.Errorf("%d of %d anonymous creates from one client went through: X-Forwarded-For gave it new budgets", created, len(spoofs))
	}
}
