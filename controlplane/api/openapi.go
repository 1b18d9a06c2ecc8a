package api

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strconv"
)

// openAPIDocument is the OpenAPI 3.1 description of every route, served at
// GET /api/v1/openapi.json. The tests hold it to Routes() both ways (every
// route documented, every documented operation a route, security matching
// each route's access), so a new route needs its entry here.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag is a strong entity tag of the document, which only a new
// build changes.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}()

// openAPICacheControl lets clients and shared caches keep the document for
// five minutes and then revalidate it with the ETag. Not longer: during a
// rolling upgrade the nodes behind one address serve different versions,
// and a client should see the new one soon after the upgrade ends. The
// document is public and the same for every caller.
const openAPICacheControl = "public, max-age=300"

// openAPI answers GET (and HEAD) /api/v1/openapi.json with the document.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("ETag", openAPIETag)
	hdr.Set("Cache-Control", openAPICacheControl)
	if etagMatches(r.Header.Values("If-None-Match"), openAPIETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(openAPIDocument)
	}
}
