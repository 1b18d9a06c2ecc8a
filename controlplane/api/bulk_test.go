package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/targeturl"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// millionEmpty is the body of the report: a million {} items, 3 MB.
func millionEmpty() []byte {
	return []byte(`{"links":[` + strings.Repeat(`{},`, 999_999) + `{}]}`)
}

func bulkRequest(body io.Reader) *http.Request {
	r := httptest.NewRequest("POST", "http://sho.test/api/v1/links/bulk", body)
	r.Header.Set("Content-Type", "application/json")
	return r
}

// TestBulkBodyBounds: the decoder stops at link 1,001, however long the
// array goes on; 1,000 real links of the longest URL fit the body cap, and
// a body past the cap is a 413.
func TestBulkBodyBounds(t *testing.T) {
	e := newEnv(t, openSQLite(t), api.Config{})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, bulkRequest(bytes.NewReader(millionEmpty())))
	wantProblem(t, w, http.StatusBadRequest, "at most 1000")

	// 1,000 links of the longest URL, each with every field set.
	long := "https://example.com/" + strings.Repeat("a", targeturl.DefaultMaxLength-len("https://example.com/")-4)
	items := make([]string, api.MaxBulk)
	for i := range items {
		items[i] = fmt.Sprintf(`{"url": "%s%04d", "alias": "bulk-bound-%04d-%s", "expires_at": "2031-12-31T23:59:59.999999999Z", "redirect_status": 308}`,
			long, i, i, strings.Repeat("x", 40))
	}
	full := `{"links": [` + strings.Join(items, ", ") + `]}`
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, bulkRequest(strings.NewReader(full)))
	if resp := decode[api.BulkResponse](t, w); w.Code != http.StatusOK || resp.Created != api.MaxBulk {
		t.Fatalf("1,000 links of %d-byte URLs (%d bytes): %d, created %d", len(long)+4, len(full), w.Code, resp.Created)
	}

	// The same links padded to twice the size: past the cap.
	padded := `{"links": [` + strings.Join(items, strings.Repeat(" ", len(full)/api.MaxBulk)+",") + `]}`
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, bulkRequest(strings.NewReader(padded)))
	wantProblem(t, w, http.StatusRequestEntityTooLarge, "larger than")

	for _, bad := range []struct{ body, detail string }{
		{`[]`, "JSON object"},
		{`{"links": 5}`, "array"},
		{`{"links": [], "links": []}`, "more than once"},
		{`{"other": []}`, `unknown field "other"`},
		{`{"links": [{"url": 5}]}`, "url"},
		{`{"links": [{"nope": 1}]}`, `unknown field "nope"`},
		{`{"links": [{}]} {}`, "exactly one"},
		{`{"links": [{}`, "JSON"},
	} {
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, bulkRequest(strings.NewReader(bad.body)))
		wantProblem(t, w, http.StatusBadRequest, bad.detail)
	}
}

// TestBulkConcurrencyBound: a node runs at most MaxConcurrentBulk bulk
// creates at once; the next gets 503 with Retry-After, and goes through
// once a slot is free.
func TestBulkConcurrencyBound(t *testing.T) {
	const slots = 2
	e := newEnv(t, openSQLite(t), api.Config{MaxConcurrentBulk: slots})
	// Bodies that stop half-way: the requests hold their slots until the
	// writers finish them.
	var writers []*io.PipeWriter
	var wg sync.WaitGroup
	codes := make(chan int, slots)
	for range slots {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, bulkRequest(pr))
			codes <- w.Code
		}()
		if _, err := pw.Write([]byte(`{"links": [`)); err != nil {
			t.Fatal(err)
		}
	}
	small := `{"links": [{"url": "https://example.com/bound"}]}`
	testenv.WaitFor(t, "a bulk create beyond the bound to be refused", 10*time.Second, func() bool {
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, bulkRequest(strings.NewReader(small)))
		if w.Code != http.StatusServiceUnavailable {
			return false
		}
		if w.Header().Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
		return true
	})
	for _, pw := range writers {
		_, _ = pw.Write([]byte(`{"url": "https://example.com/slow"}]}`))
		_ = pw.Close()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("a slow bulk create answered %d, want 200", code)
		}
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, bulkRequest(strings.NewReader(small)))
	if w.Code != http.StatusOK {
		t.Fatalf("after the slow ones: %d %s", w.Code, w.Body)
	}
}

// TestBulkHostileMemory measures what hostile bulk bodies cost the real
// handler, N at once: the report's million {} items (3 MB; before the fix
// each cost about 160 MB, six at once 710 MB of process memory), and one
// string as long as the body cap allows. The bound is a few MB per
// request: the decoder holds at most 1,000 links and the body cap's
// bytes.
func TestBulkHostileMemory(t *testing.T) {
	const n = 6
	e := newEnv(t, openSQLite(t), api.Config{MaxConcurrentBulk: n})
	huge := []byte(`{"links": [{"url": "https://example.com/` + strings.Repeat("a", 3<<20) + `"}]}`)
	for _, tt := range []struct {
		name  string
		body  []byte
		want  int
		bound uint64 // bytes allocated per request, at most
	}{
		{"a million {} items", millionEmpty(), http.StatusBadRequest, 2 << 20},
		{"one 3 MB string", huge, http.StatusRequestEntityTooLarge, 16 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var wg sync.WaitGroup
			codes := make([]int, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					w := httptest.NewRecorder()
					e.h.ServeHTTP(w, bulkRequest(bytes.NewReader(tt.body)))
					codes[i] = w.Code
				}()
			}
			wg.Wait()
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d concurrent %d-byte bodies (%s): %.1f MB allocated in all, %.2f MB a request; heap in use %.1f MB before, %.1f MB after",
				n, len(tt.body), tt.name, float64(alloc)/(1<<20), float64(alloc)/n/(1<<20),
				float64(before.HeapInuse)/(1<<20), float64(after.HeapInuse)/(1<<20))
			for i, code := range codes {
				if code != tt.want {
					t.Errorf("request %d: %d, want %d", i, code, tt.want)
				}
			}
			if alloc > n*tt.bound {
				t.Errorf("%d hostile requests allocated %d bytes, more than %d each", n, alloc, tt.bound)
			}
		})
	}
}
