package api

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/shortify/shortify/controlplane/internal/qrcode"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/problem"
)

// qrCacheControl lets the caller's browser keep a QR image for a day, and
// no shared cache at all. The image holds nothing but the short URL, which
// never changes for a code, so a cached image is never wrong: once the link
// is deleted, disabled or expired, the image still encodes the same URL,
// and the redirect at that URL answers 404 or 410, just as it does for
// every copy of the code already printed. An alias re-created after a
// delete has the same short URL, hence the same image and the same ETag.
// The route needs a key, so the answer is "private": a shared cache (a
// proxy, a CDN) that kept it would hand it to callers without one, and
// would confirm to them which codes exist.
const qrCacheControl = "private, max-age=86400"

// qrVary names the request headers the answer depends on: the key
// (either form), so that no cache reuses one caller's answer for another.
const qrVary = apiauth.AuthorizationHeader + ", " + apiauth.KeyHeader

// qrCSP keeps an SVG opened directly in a browser inert: no script, no
// fetches, a sandboxed origin. The document is plain markup anyway.
const qrCSP = "default-src 'none'; sandbox"

// qrRender names the way images are drawn. The ETag includes it, so change
// it whenever the same short URL and parameters give other bytes (a new
// version of the QR library or of compress/flate, a drawing change):
// strong ETags promise byte-identical bodies. TestQRGolden fails when the
// bytes change.
const qrRender = "qr1"

// qrParams lists the query parameters of GET /api/v1/links/{code}/qr.
var qrParams = []string{"format", "size", "margin", "ecc", domainParam}

// qrQuery is a parsed, validated QR request.
type qrQuery struct {
	svg bool
	// negotiated is true when the format came from the Accept header
	// rather than from ?format=.
	negotiated bool
	opts       qrcode.Options
	// domain is the domain parameter as sent (see queryDomain).
	domain url.Values
}

// getQR answers GET /api/v1/links/{code}/qr with the QR code of the link's
// short URL, as PNG or SVG.
func (h *Handler) getQR(w http.ResponseWriter, r *http.Request) {
	q, ok := parseQRQuery(w, r)
	if !ok {
		return
	}
	domain, ok := h.queryDomain(w, q.domain)
	if !ok {
		return
	}
	link, ok := h.pathLink(w, r, domain)
	if !ok {
		return
	}
	shortURL := h.present(r, link).ShortURL

	// Drawing comes before the If-None-Match check so that a size too
	// small for this short URL is a 400 even for "If-None-Match: *". It
	// costs about 0.1 ms at the default size and 1 to 2 ms at most (see the
	// qrcode benchmarks), and the store lookup comes first anyway.
	var (
		body []byte
		err  error
	)
	if q.svg {
		body, err = qrcode.EncodeSVG(shortURL, q.opts)
	} else {
		body, err = qrcode.Encode(shortURL, q.opts)
	}
	if err != nil {
		var oe *qrcode.OptionError
		if errors.As(err, &oe) {
			// The short URL needs more pixels than size gives.
			writeQROptionProblem(w, oe)
			return
		}
		h.log.ErrorContext(r.Context(), "cannot draw a QR code", "code", link.Code, "short_url", shortURL, "err", err)
		problem.Write(w, http.StatusInternalServerError, "cannot draw the QR code of "+shortURL)
		return
	}

	hdr := w.Header()
	etag := qrETag(shortURL, q)
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", qrCacheControl)
	hdr.Add("Vary", qrVary) // after cors's Vary: Origin, when set
	if q.negotiated {
		hdr.Add("Vary", "Accept")
	}
	if etagMatches(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	ext := "png"
	if q.svg {
		ext = "svg"
		hdr.Set("Content-Type", "image/svg+xml")
		hdr.Set("Content-Security-Policy", qrCSP)
	} else {
		hdr.Set("Content-Type", "image/png")
	}
	hdr.Set("X-Content-Type-Options", "nosniff")
	// Codes are [A-Za-z0-9_-]: safe in a quoted file name as they are.
	hdr.Set("Content-Disposition", `inline; filename="`+link.Code+`.`+ext+`"`)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// parseQRQuery reads the query string, answering 400 itself for anything
// it does not accept: unknown or repeated parameters, bad values.
func parseQRQuery(w http.ResponseWriter, r *http.Request) (qrQuery, bool) {
	values, ok := apiquery.Params(w, r, qrParams)
	if !ok {
		return qrQuery{}, false
	}

	q := qrQuery{opts: qrcode.DefaultOptions(), domain: url.Values{domainParam: values[domainParam]}}
	if v, ok := values["format"]; ok {
		switch strings.ToLower(v[0]) {
		case "png":
		case "svg":
			q.svg = true
		default:
			problem.WriteField(w, http.StatusBadRequest, "format", fmt.Sprintf("format must be png or svg, not %q", v[0]))
			return qrQuery{}, false
		}
	} else {
		q.negotiated = true
		q.svg = prefersSVG(strings.Join(r.Header.Values("Accept"), ","))
	}
	ints := []struct {
		name    string
		dst     *int
		allowed string
	}{
		{"size", &q.opts.Size, fmt.Sprintf("an integer from %d to %d (pixels)", qrcode.MinSize, qrcode.MaxSize)},
		{"margin", &q.opts.Margin, fmt.Sprintf("an integer from 0 to %d (modules of quiet zone)", qrcode.MaxMargin)},
	}
	for _, p := range ints {
		v, ok := values[p.name]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v[0])
		if err != nil {
			problem.WriteField(w, http.StatusBadRequest, p.name, fmt.Sprintf("%s must be %s, not %q", p.name, p.allowed, v[0]))
			return qrQuery{}, false
		}
		*p.dst = n
	}
	if v, ok := values["ecc"]; ok {
		level, err := qrcode.ParseLevel(v[0])
		if err != nil {
			problem.WriteField(w, http.StatusBadRequest, "ecc", fmt.Sprintf("ecc must be L, M, Q or H (the error-correction level), not %q", v[0]))
			return qrQuery{}, false
		}
		q.opts.Level = level
	}
	if err := q.opts.Validate(); err != nil {
		var oe *qrcode.OptionError
		if !errors.As(err, &oe) {
			problem.Write(w, http.StatusBadRequest, err.Error())
			return qrQuery{}, false
		}
		writeQROptionProblem(w, oe)
		return qrQuery{}, false
	}
	return q, true
}

// writeQROptionProblem answers 400 for an option qrcode refused, naming
// the query parameter that set it.
func writeQROptionProblem(w http.ResponseWriter, oe *qrcode.OptionError) {
	param := oe.Option
	if param == "level" {
		param = "ecc"
	}
	problem.WriteField(w, http.StatusBadRequest, param, fmt.Sprintf("%s must be %s, not %s", param, oe.Allowed, oe.Value))
}

// qrETag is a strong entity tag for the image of shortURL drawn as q asks:
// the same inputs always give the same bytes.
func qrETag(shortURL string, q qrQuery) string {
	format := "png"
	if q.svg {
		format = "svg"
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{
		qrRender, format, strconv.Itoa(q.opts.Size), strconv.Itoa(q.opts.Margin), string(q.opts.Level), shortURL,
	}, "\x00")))
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// etagMatches applies If-None-Match (RFC 9110 §13.1.2): "*" or any listed
// tag equal to etag under weak comparison.
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		for t := range strings.SplitSeq(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// prefersSVG reports whether an Accept header ranks image/svg+xml above
// image/png. Ties, no header and headers that accept neither give PNG: the
// default format, and what a browser fetching an <img> gets.
func prefersSVG(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return false
	}
	return acceptQ(accept, "image/svg+xml") > acceptQ(accept, "image/png")
}

// acceptQ is the quality an Accept header gives the media type mt: that of
// the most specific matching range (type/subtype, then type/*, then */*),
// 0 when none matches.
func acceptQ(accept, mt string) float64 {
	typ, _, _ := strings.Cut(mt, "/")
	bestRank, bestQ := 0, 0.0
	for rng := range strings.SplitSeq(accept, ",") {
		params := strings.Split(rng, ";")
		name := strings.ToLower(strings.TrimSpace(params[0]))
		rank := 0
		switch name {
		case mt:
			rank = 3
		case typ + "/*":
			rank = 2
		case "*/*":
			rank = 1
		}
		if rank <= bestRank {
			continue
		}
		q := 1.0
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || !(f >= 0 && f <= 1) { // NaN too
					f = 0
				}
				q = f
			}
		}
		bestRank, bestQ = rank, q
	}
	return bestQ
}
