package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// get sends a GET (or HEAD) with the given headers, e.g. "Accept",
// "image/svg+xml".
func (e *env) get(t *testing.T, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://sho.test"+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *env) create(t *testing.T, body string) api.Link {
	t.Helper()
	w := e.do(t, "POST", "/api/v1/links", "application/json", body)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	return decode[api.Link](t, w)
}

// scanPNG decodes the PNG answer with ZXing's QR reader and returns the
// image's size, the text and the error-correction level.
func scanPNG(t *testing.T, w *httptest.ResponseRecorder) (size image.Point, text, level string) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatalf("the body is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// PURE_BARCODE: the image is the code alone, as ours are. Without it
	// the decoder's finder-pattern search, made for photos, sometimes
	// misreads codes with a quiet zone under the 4 modules the standard
	// asks for (margin 0 or 1, which the API allows on request).
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		t.Fatalf("no QR code in the %v PNG: %v", img.Bounds().Size(), err)
	}
	level, _ = res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	return img.Bounds().Size(), res.GetText(), level
}

func wantImage(t *testing.T, w *httptest.ResponseRecorder, contentType string) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body.String())
	}
	h := w.Header()
	if got := h.Get("Content-Type"); got != contentType {
		t.Errorf("Content-Type = %q, want %q", got, contentType)
	}
	// The route needs a key: no shared cache may keep the image.
	if got := h.Get("Cache-Control"); got != "private, max-age=86400" {
		t.Errorf("Cache-Control = %q", got)
	}
	if !varies(h, "Authorization") || !varies(h, "X-Api-Key") {
		t.Errorf("Vary = %q, want Authorization and X-Api-Key among them", h.Values("Vary"))
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	if etag := h.Get("ETag"); len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Errorf("ETag = %q, want a strong entity tag", etag)
	}
	csp := h.Get("Content-Security-Policy")
	if contentType == "image/svg+xml" && !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("SVG without a restrictive Content-Security-Policy: %q", csp)
	}
}

// varies reports whether the Vary headers of h name header.
func varies(h http.Header, header string) bool {
	for _, v := range h.Values("Vary") {
		for _, name := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(name), header) {
				return true
			}
		}
	}
	return false
}

func TestQRAPI(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open(t), api.Config{})
			link := e.create(t, `{"url":"https://example.com/some/long/path"}`)
			t.Run("png decodes to the short URL", func(t *testing.T) { testQRPNG(t, e, link) })
			t.Run("svg", func(t *testing.T) { testQRSVG(t, e, link) })
			t.Run("accept", func(t *testing.T) { testQRAccept(t, e, link) })
			t.Run("etag", func(t *testing.T) { testQRETag(t, e, link) })
			t.Run("head", func(t *testing.T) { testQRHead(t, e, link) })
			t.Run("bad parameters", func(t *testing.T) { testQRBadParams(t, e, link) })
			t.Run("unknown code", func(t *testing.T) { testQRUnknown(t, e) })
			t.Run("public url", func(t *testing.T) {
				e := newEnv(t, open(t), api.Config{PublicURL: "https://sho.rt/"})
				link := e.create(t, `{"url":"https://example.com/"}`)
				w := e.get(t, "GET", "/api/v1/links/"+link.Code+"/qr")
				wantImage(t, w, "image/png")
				if _, text, _ := scanPNG(t, w); text != "https://sho.rt/"+link.Code || text != link.ShortURL {
					t.Fatalf("decoded %q, want %q", text, link.ShortURL)
				}
			})
		})
	}
}

func testQRPNG(t *testing.T, e *env, link api.Link) {
	w := e.get(t, "GET", "/api/v1/links/"+link.Code+"/qr")
	wantImage(t, w, "image/png")
	if got := w.Header().Get("Content-Length"); got != strconv.Itoa(w.Body.Len()) {
		t.Errorf("Content-Length = %q for %d bytes", got, w.Body.Len())
	}
	if !varies(w.Header(), "Accept") {
		t.Errorf("Vary = %q for a negotiated format", w.Header().Values("Vary"))
	}
	size, text, level := scanPNG(t, w)
	if size != image.Pt(256, 256) || text != link.ShortURL || level != "M" {
		t.Fatalf("default image: %v, %q at %q; want 256×256, %q at M", size, text, level, link.ShortURL)
	}
	for _, ecc := range []string{"L", "M", "Q", "H", "h"} {
		for _, shape := range []struct{ size, margin int }{{64, 0}, {200, 1}, {777, 16}} {
			path := fmt.Sprintf("/api/v1/links/%s/qr?format=png&size=%d&margin=%d&ecc=%s", link.Code, shape.size, shape.margin, ecc)
			w := e.get(t, "GET", path)
			wantImage(t, w, "image/png")
			if varies(w.Header(), "Accept") {
				t.Errorf("%s: Vary %q with an explicit format", path, w.Header().Values("Vary"))
			}
			size, text, level := scanPNG(t, w)
			if size != image.Pt(shape.size, shape.size) || text != link.ShortURL || level != strings.ToUpper(ecc) {
				t.Errorf("%s: %v, %q at %q", path, size, text, level)
			}
		}
	}
}

func testQRSVG(t *testing.T, e *env, link api.Link) {
	w := e.get(t, "GET", "/api/v1/links/"+link.Code+"/qr?format=svg&size=300&margin=2&ecc=Q")
	wantImage(t, w, "image/svg+xml")
	var doc struct {
		XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
		Width   string   `xml:"width,attr"`
		Height  string   `xml:"height,attr"`
		ViewBox string   `xml:"viewBox,attr"`
		Title   string   `xml:"title"`
		Paths   []struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	dec := xml.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the SVG is not XML: %v", err)
	}
	// http://sho.test/ and a 6-character code are 22 bytes: version 3 at
	// Q, 29 modules, plus a quiet zone of 2 on each side.
	if doc.Width != "300" || doc.Height != "300" || doc.ViewBox != "0 0 33 33" {
		t.Errorf("dimensions %s×%s, viewBox %q; want 300×300, 0 0 33 33", doc.Width, doc.Height, doc.ViewBox)
	}
	if doc.Title != link.ShortURL || len(doc.Paths) != 1 || doc.Paths[0].D == "" {
		t.Errorf("title %q, %d paths", doc.Title, len(doc.Paths))
	}
	if got := w.Header().Get("Content-Disposition"); got != `inline; filename="`+link.Code+`.svg"` {
		t.Errorf("Content-Disposition = %q", got)
	}
}

func testQRAccept(t *testing.T, e *env, link api.Link) {
	path := "/api/v1/links/" + link.Code + "/qr"
	tests := []struct{ accept, want string }{
		{"", "image/png"},
		{"image/svg+xml", "image/svg+xml"},
		{"image/png;q=0.5, image/svg+xml", "image/svg+xml"},
		{"image/svg+xml;q=0.4, image/*;q=0.5", "image/png"},
		{"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image/png"}, // a browser's <img>
		{"application/json", "image/png"},
		{"image/svg+xml;q=nan, image/png;q=0.1", "image/png"},
	}
	for _, tt := range tests {
		w := e.get(t, "GET", path, "Accept", tt.accept)
		if got := w.Header().Get("Content-Type"); w.Code != 200 || got != tt.want {
			t.Errorf("Accept %q: %d %q, want %q", tt.accept, w.Code, got, tt.want)
		}
		if !varies(w.Header(), "Accept") {
			t.Errorf("Accept %q: no Vary: Accept", tt.accept)
		}
	}
	// An explicit format wins over Accept.
	w := e.get(t, "GET", path+"?format=PNG", "Accept", "image/svg+xml")
	if got := w.Header().Get("Content-Type"); got != "image/png" || varies(w.Header(), "Accept") {
		t.Errorf("format=PNG with Accept svg: %q, Vary %q", got, w.Header().Values("Vary"))
	}
}

func testQRETag(t *testing.T, e *env, link api.Link) {
	base := "/api/v1/links/" + link.Code + "/qr"
	etag := func(path string, header ...string) string {
		t.Helper()
		w := e.get(t, "GET", path, header...)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
		}
		return w.Header().Get("ETag")
	}
	tag := etag(base)
	// The same image however it is asked for, other images other tags.
	if etag(base+"?format=png&size=256&margin=4&ecc=M") != tag || etag(base+"?ecc=m") != tag {
		t.Error("the defaults spelt out give another ETag")
	}
	seen := map[string]string{tag: base}
	for _, q := range []string{"?format=svg", "?size=257", "?margin=3", "?ecc=H", "?format=svg&size=257"} {
		other := etag(base + q)
		if prev, dup := seen[other]; dup {
			t.Errorf("%s and %s share the ETag %s", q, prev, other)
		}
		seen[other] = q
	}
	if etag(base, "Accept", "image/svg+xml") != etag(base+"?format=svg") {
		t.Error("negotiated SVG and ?format=svg differ")
	}

	for _, inm := range []string{tag, "W/" + tag, `"nope", ` + tag, "*"} {
		w := e.get(t, "GET", base, "If-None-Match", inm)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and no body", inm, w.Code, w.Body.Len())
		}
		if w.Header().Get("ETag") != tag || w.Header().Get("Cache-Control") != "private, max-age=86400" {
			t.Errorf("304 headers: %v", w.Header())
		}
	}
	if w := e.get(t, "GET", base+"?size=300", "If-None-Match", tag); w.Code != http.StatusOK {
		t.Errorf("another size with the old ETag: %d, want 200", w.Code)
	}
	if w := e.get(t, "HEAD", base, "If-None-Match", tag); w.Code != http.StatusNotModified {
		t.Errorf("HEAD with a matching ETag: %d", w.Code)
	}

	// The short URL is the public URL's, whatever Host the request
	// names, and so is the tag.
	r := httptest.NewRequest("GET", "http://evil.example"+base, nil)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != 200 || w.Header().Get("ETag") != tag {
		t.Errorf("Host: evil.example: %d, ETag %q, want sho.test's %q", w.Code, w.Header().Get("ETag"), tag)
	}
	if _, text, _ := scanPNG(t, w); text != link.ShortURL || strings.Contains(text, "evil") {
		t.Errorf("Host: evil.example decodes to %q, want %q", text, link.ShortURL)
	}
}

func testQRHead(t *testing.T, e *env, link api.Link) {
	path := "/api/v1/links/" + link.Code + "/qr?format=svg&size=512"
	get, head := e.get(t, "GET", path), e.get(t, "HEAD", path)
	wantImage(t, head, "image/svg+xml")
	if head.Body.Len() != 0 {
		t.Errorf("HEAD has a %d-byte body", head.Body.Len())
	}
	for _, k := range []string{"Content-Type", "Content-Length", "ETag", "Cache-Control", "Content-Security-Policy"} {
		if head.Header().Get(k) != get.Header().Get(k) {
			t.Errorf("%s: HEAD %q, GET %q", k, head.Header().Get(k), get.Header().Get(k))
		}
	}
	wantProblem(t, e.get(t, "HEAD", "/api/v1/links/NoSuch0/qr"), http.StatusNotFound, "NoSuch0")
}

func testQRBadParams(t *testing.T, e *env, link api.Link) {
	// A code at the longest alias length on a long host needs more
	// modules than a small image has pixels.
	long := e.create(t, `{"url":"https://example.com/","alias":"`+strings.Repeat("q", 58)+link.Code+`"}`)
	tests := []struct {
		name, code, query string
		field, detail     string
	}{
		{"unknown parameter", link.Code, "?colour=red", "colour", `unknown query parameter "colour"; allowed: format, size, margin, ecc`},
		{"unknown among known", link.Code, "?size=300&fmt=svg", "fmt", `unknown query parameter "fmt"`},
		{"repeated", link.Code, "?size=300&size=400", "size", "more than once"},
		{"malformed query", link.Code, "?size=%zz", "", "malformed"},
		{"format", link.Code, "?format=gif", "format", `format must be png or svg, not "gif"`},
		{"empty format", link.Code, "?format=", "format", "png or svg"},
		{"size not a number", link.Code, "?size=big", "size", `size must be an integer from 64 to 2048 (pixels), not "big"`},
		{"size fraction", link.Code, "?size=256.5", "size", "64 to 2048"},
		{"size empty", link.Code, "?size=", "size", "64 to 2048"},
		{"size too small", link.Code, "?size=63", "size", "size must be 64 to 2048 pixels, not 63"},
		{"size too large", link.Code, "?size=2049", "size", "64 to 2048 pixels, not 2049"},
		{"size huge", link.Code, "?size=99999999999999999999", "size", "64 to 2048"},
		{"margin negative", link.Code, "?margin=-1", "margin", "margin must be 0 to 16 modules, not -1"},
		{"margin too wide", link.Code, "?margin=17", "margin", "0 to 16 modules, not 17"},
		{"margin not a number", link.Code, "?margin=four", "margin", "an integer from 0 to 16"},
		{"ecc unknown", link.Code, "?ecc=X", "ecc", `ecc must be L, M, Q or H (the error-correction level), not "X"`},
		{"ecc word", link.Code, "?ecc=high", "ecc", "L, M, Q or H"},
		{"size too small for the URL", long.Code, "?size=64&margin=16&ecc=H", "size", "size must be at least"},
		{"bad parameter beats unknown code", "NoSuch0", "?size=1", "size", "64 to 2048"},
		{"malformed code", "bad.code", "", "code", "not a short code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.get(t, "GET", "/api/v1/links/"+tt.code+"/qr"+tt.query, "If-None-Match", "*")
			p := wantProblem(t, w, http.StatusBadRequest, tt.detail)
			if p.Field != tt.field {
				t.Errorf("field = %q, want %q", p.Field, tt.field)
			}
			for _, k := range []string{"ETag", "Vary", "Content-Security-Policy"} {
				if v := w.Header().Get(k); v != "" {
					t.Errorf("a refused request has %s: %q", k, v)
				}
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q on a 400", cc)
			}
		})
	}
	// Nothing changed: both links are there and draw as before.
	for _, l := range []api.Link{link, long} {
		if _, err := e.store.Get(context.Background(), "", l.Code); err != nil {
			t.Fatalf("link %s after refused requests: %v", l.Code, err)
		}
	}
	w := e.get(t, "GET", "/api/v1/links/"+long.Code+"/qr?size=2048&margin=16&ecc=H")
	wantImage(t, w, "image/png")
	if _, text, _ := scanPNG(t, w); text != long.ShortURL {
		t.Errorf("the long alias decodes to %q", text)
	}
}

func testQRUnknown(t *testing.T, e *env) {
	wantProblem(t, e.get(t, "GET", "/api/v1/links/NoSuch0/qr"), http.StatusNotFound, `no link has the code "NoSuch0"`)

	// A deleted link: 404 even for a client that holds its ETag.
	link := e.create(t, `{"url":"https://example.com/gone"}`)
	path := "/api/v1/links/" + link.Code + "/qr"
	w := e.get(t, "GET", path)
	wantImage(t, w, "image/png")
	tag := w.Header().Get("ETag")
	if w := e.do(t, "DELETE", "/api/v1/links/"+link.Code, "", ""); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d", w.Code)
	}
	w = e.get(t, "GET", path, "If-None-Match", tag)
	wantProblem(t, w, http.StatusNotFound, link.Code)
	if w.Header().Get("ETag") != "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("404 headers: %v", w.Header())
	}

	if w := e.get(t, "POST", path); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET" {
		t.Errorf("POST on the QR route: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// TestQRGolden pins the bytes of two images. When it fails, the drawing
// changed (a library upgrade, say): change qrRender in qr.go, so that
// clients holding old ETags get the new bytes, then the sums here.
func TestQRGolden(t *testing.T) {
	s := teststore.SQLite(t)
	e := newEnv(t, s, api.Config{PublicURL: "https://sho.rt"})
	e.create(t, `{"url":"https://example.com/","alias":"golden"}`)
	for query, want := range map[string]string{
		"?format=png": "13dd9a4763a5f17ee552a1a7f0bad22731ba30ed8ace4a7412c6bfce05c5088f",
		"?format=svg": "b0c274a716d1097f0d41214aba13af421d9599be9585693442a4f19984eb8768",
	} {
		w := e.get(t, "GET", "/api/v1/links/golden/qr"+query)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", query, w.Code, w.Body.String())
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(w.Body.Bytes())); got != want {
			t.Errorf("%s: sha256 %s, want %s: the image changed; change qrRender", query, got, want)
		}
	}
}
