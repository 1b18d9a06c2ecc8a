package caddymodule

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/shortify/shortify/internal/problem"
)

// A link an administrator took down answers 451 Unavailable For Legal
// Reasons (RFC 7725), at every edge, from whichever tier it was loaded
// (the L1 entry, the L2 value and the store's row all carry the takedown):
// a short HTML page naming the reason, or a problem document for a client
// that asks for JSON. Never a Location: the target is not revealed. The
// reason is the administrator's plain text; html/template escapes it, and
// the page's CSP allows nothing but its own style, so even a reason that
// reads as markup stays text.

// takedownStyle is the page's only style, allowed by its hash in the CSP.
const takedownStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}blockquote{margin:1em 0;padding:.5em 1em;border-left:4px solid #c33;background:#f7f7f7}`

// takedownPage is the notice; the reason is shown as text.
var takedownPage = newPage("takedown", "Unavailable for legal reasons", takedownStyle, `<h1>This short link was taken down</h1>
<p>The administrators of this link shortener have taken this link down. The reason given:</p>
<blockquote>{{.Reason}}</blockquote>
`)

// takedownProblem is the JSON answer: a problem document with the reason
// as an extension member.
type takedownProblem struct {
	problem.Details
	Reason string `json:"reason"`
}

// takenDown answers a request for a taken-down link with 451: the page,
// or a problem document when the client asks for JSON.
func (h *Handler) takenDown(w http.ResponseWriter, r *http.Request, reason string) error {
	h.stats.takenDown.Inc()
	h.stats.takedowns.Inc()
	var body []byte
	hdr := w.Header()
	if wantsJSON(r) {
		var b bytes.Buffer
		_ = json.NewEncoder(&b).Encode(takedownProblem{Details: problem.Details{
			Type: "about:blank", Title: "Unavailable For Legal Reasons", Status: http.StatusUnavailableForLegalReasons,
			Detail: "this short link was taken down: " + reason,
		}, Reason: reason})
		body = b.Bytes()
		hdr["Content-Type"] = ctProblem
		hdr["Content-Length"] = contentLength(body)
		hdr["X-Content-Type-Options"] = nosniff
	} else {
		body = takedownPage.render(struct{ Reason string }{reason})
		takedownPage.header(hdr, contentLength(body))
	}
	hdr["Cache-Control"] = ccNoStore // a takedown may be lifted
	w.WriteHeader(http.StatusUnavailableForLegalReasons)
	if r.Method == http.MethodHead {
		return nil
	}
	// A failed write means the client went away: nothing to report.
	_, _ = w.Write(body)
	return nil
}

// wantsJSON reports whether the client asks for JSON rather than a page:
// its Accept names a JSON type and not text/html (browsers name both
// html and */*; API clients name JSON alone).
func wantsJSON(r *http.Request) bool {
	accept := strings.ToLower(strings.Join(r.Header.Values("Accept"), ","))
	return strings.Contains(accept, "json") && !strings.Contains(accept, "text/html")
}
