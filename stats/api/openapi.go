package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"time"
)

// openAPIDocument is the OpenAPI 3.1 description of the stats routes,
// served at GET /api/v1/stats/openapi.json. The tests hold it to Routes()
// both ways, so a new route needs its entry there.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag is a strong entity tag of the document, which only a new
// build changes.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}()

// openAPI answers GET (and HEAD) /api/v1/stats/openapi.json. Like the
// control plane's document it is public and cached for five minutes, then
// revalidated (ServeContent answers If-None-Match).
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("ETag", openAPIETag)
	hdr.Set("Cache-Control", "public, max-age=300")
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(openAPIDocument))
}
