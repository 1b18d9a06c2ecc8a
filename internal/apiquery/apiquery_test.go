package apiquery

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestParams(t *testing.T) {
	t.Parallel()
	allowed := []string{"from", "to"}
	for _, tt := range []struct {
		query     string
		ok        bool
		detailHas string
	}{
		{"", true, ""},
		{"from=1&to=2", true, ""},
		{"to=2&zz=1&aa=1", false, `unknown query parameter "aa"; allowed: from, to`},
		{"from=1&from=2", false, `query parameter "from" is given more than once`},
		{"from=%zz", false, "the query string is malformed"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/?"+tt.query, nil)
		w := httptest.NewRecorder()
		v, ok := Params(w, r, allowed)
		switch {
		case ok != tt.ok:
			t.Errorf("%q: ok %v, want %v (%s)", tt.query, ok, tt.ok, w.Body)
		case ok && w.Body.Len() != 0:
			t.Errorf("%q: accepted with a body %s", tt.query, w.Body)
		case ok && tt.query == "from=1&to=2" && (v.Get("from") != "1" || v.Get("to") != "2"):
			t.Errorf("%q: values %v", tt.query, v)
		case !ok && (w.Code != http.StatusBadRequest || !strings.Contains(detail(t, w), tt.detailHas)):
			t.Errorf("%q: %d %s, want 400 with %q", tt.query, w.Code, w.Body, tt.detailHas)
		}
	}
}

// detail is the problem document's detail.
func detail(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var doc struct{ Detail string }
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("not a problem document: %s", w.Body)
	}
	return doc.Detail
}

func TestPathCode(t *testing.T) {
	for _, tc := range []struct {
		code string
		ok   bool
	}{
		{"a9ZkQ2", true},
		{"my-alias_1", true},
		{"has.dot", false},
		{"caf\u00e9", false},
		{strings.Repeat("a", 200), false},
	} {
		mux := http.NewServeMux()
		var got string
		var ok bool
		w := httptest.NewRecorder()
		mux.HandleFunc("GET /links/{code}", func(w http.ResponseWriter, r *http.Request) { got, ok = PathCode(w, r) })
		mux.ServeHTTP(w, httptest.NewRequest("GET", "/links/"+url.PathEscape(tc.code), nil))
		if ok != tc.ok || (ok && got != tc.code) {
			t.Errorf("PathCode(%q) = %q, %v; want ok %v", tc.code, got, ok, tc.ok)
		}
		if !ok && (w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"field":"code"`)) {
			t.Errorf("PathCode(%q) answered %d %s, want a 400 naming code", tc.code, w.Code, w.Body.String())
		}
	}
}

func TestBool(t *testing.T) {
	for _, tc := range []struct {
		query    string
		want, ok bool
		wantCode int
	}{
		{"", false, true, 200},
		{"flag=false", false, true, 200},
		{"flag=true", true, true, 200},
		{"flag=TRUE", false, false, 400},
		{"flag=1", false, false, 400},
		{"flag=", false, true, 200},
	} {
		vals, _ := url.ParseQuery(tc.query)
		w := httptest.NewRecorder()
		got, ok := Bool(w, vals, "flag")
		if got != tc.want || ok != tc.ok || w.Code != tc.wantCode {
			t.Errorf("Bool(%q) = %t, %t, status %d; want %t, %t, %d", tc.query, got, ok, w.Code, tc.want, tc.ok, tc.wantCode)
		}
	}
}
