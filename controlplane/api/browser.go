package api

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/shortify/shortify/internal/problem"
)

// Browsers may send a cross-origin POST without asking first when its
// Content-Type is text/plain, a form type or absent (a "simple" request,
// or a no-cors fetch): any web page can make its visitors' browsers call
// the API that way. The API takes no cookies, so such a call carries no
// credential, but anonymous create needs none. Two rules close it:
//
//   - every write with a body must say Content-Type: application/json,
//     which a page can only send cross-origin after a CORS preflight that
//     this API answers only for the configured origins;
//   - a write that the browser marks as coming from another site
//     (Sec-Fetch-Site: cross-site or same-site), or whose Origin is
//     another origin, is refused unless that origin is configured.

// corsMaxAge is how long a browser may cache a preflight answer, in
// seconds.
const corsMaxAge = "600"

// corsAllowHeaders are the request headers a configured origin may send.
const corsAllowHeaders = "Authorization, Content-Type, X-Api-Key, If-None-Match"

// corsExposeHeaders are the response headers a configured origin's page
// may read.
const corsExposeHeaders = "Location, Retry-After, ETag"

// CheckCORSOrigin reports whether origin can be a cors_origins entry: an
// http or https scheme and a host, nothing else (browsers send Origin as
// exactly that; a trailing "/" is ignored).
func CheckCORSOrigin(origin string) error {
	u, err := url.Parse(strings.TrimSuffix(origin, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("api: CORS origin %q must be scheme://host[:port], such as https://app.example.com", origin)
	}
	return nil
}

// isWrite reports whether the method changes state.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// corsAllowed reports whether origin is one of the configured CORS origins.
func (h *Handler) corsAllowed(origin string) bool {
	return origin != "" && slices.Contains(h.cfg.CORSOrigins, strings.TrimSuffix(origin, "/"))
}

// sameOrigin reports whether origin is the API's own: the public URL's, or
// the host the request was sent to (a page served by this same server).
func (h *Handler) sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // "null" (a sandboxed frame, a file) is nobody's origin
	}
	if pu, err := url.Parse(h.cfg.PublicURL); err == nil && pu.Scheme == u.Scheme && strings.EqualFold(pu.Host, u.Host) {
		return true
	}
	return strings.EqualFold(u.Host, r.Host)
}

// browserGuard refuses writes that a page of another site made a browser
// send, and writes whose body is not declared JSON, answering 403 or 415
// itself. It runs before authentication: neither answer says anything
// about keys or state.
func (h *Handler) browserGuard(w http.ResponseWriter, r *http.Request) bool {
	if !isWrite(r.Method) {
		return true
	}
	origin := r.Header.Get("Origin")
	if !h.corsAllowed(origin) {
		switch site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); {
		case site == "cross-site" || site == "same-site":
			h.refuseCrossSite(w, r, "the browser marked this write as sent by a page of another site (Sec-Fetch-Site: "+site+")")
			return false
		case origin != "" && !h.sameOrigin(r, origin):
			h.refuseCrossSite(w, r, "this write comes from a page of another origin ("+origin+")")
			return false
		}
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return true // a body-less write (DELETE, PUT of a blocklist entry)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		got := r.Header.Get("Content-Type")
		if got == "" {
			got = "no Content-Type"
		}
		problem.Write(w, http.StatusUnsupportedMediaType, "a request body must be sent as Content-Type: application/json, not "+got)
		return false
	}
	return true
}

// refuseCrossSite answers 403 to a cross-site write.
func (h *Handler) refuseCrossSite(w http.ResponseWriter, r *http.Request, why string) {
	h.log.Info("refused a cross-site write", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	problem.Write(w, http.StatusForbidden, why+"; writes from other sites need their origin in the shortify option cors_origins")
}

// cors adds the CORS answer headers for a configured origin, and answers
// a preflight itself; it reports whether the request is done.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if len(h.cfg.CORSOrigins) > 0 {
		w.Header().Add("Vary", "Origin")
	}
	if !h.corsAllowed(origin) {
		if preflight {
			// No Access-Control-Allow-Origin: the browser will not send
			// the call.
			problem.Write(w, http.StatusForbidden, "cross-origin calls from "+origin+" are not allowed; configure the origin in the shortify option cors_origins")
			return true
		}
		return false
	}
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", origin)
	if !preflight {
		hdr.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		return false
	}
	methods := h.allowedMethods(r)
	if methods == "" {
		problem.Write(w, http.StatusNotFound, "no API route "+r.URL.Path)
		return true
	}
	hdr.Set("Access-Control-Allow-Methods", methods)
	hdr.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	hdr.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}
