// Package problem writes RFC 9457 problem details
// (application/problem+json), the one error format of every Shortify API.
package problem

import (
	"encoding/json"
	"net/http"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Details is an RFC 9457 problem document.
type Details struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field names the request field at fault, when there is one.
	Field string `json:"field,omitempty"`
	// Code and Domain are extension members that name an existing link
	// the request conflicts with (a 409 for an external_id that a link
	// of the workspace has already): its code, and its domain (absent on
	// the instance's own host, as in a link).
	Code   string `json:"code,omitempty"`
	Domain string `json:"domain,omitempty"`
}

// Write sends a problem document with the given status, a title taken from
// the status text, and detail as the human-readable explanation.
func Write(w http.ResponseWriter, status int, detail string) {
	WriteDetails(w, Details{Status: status, Detail: detail})
}

// WriteField is Write for an error about one request field.
func WriteField(w http.ResponseWriter, status int, field, detail string) {
	WriteDetails(w, Details{Status: status, Detail: detail, Field: field})
}

// WriteDetails sends d, filling Title from the status when it is empty.
func WriteDetails(w http.ResponseWriter, d Details) {
	if d.Title == "" {
		d.Title = http.StatusText(d.Status)
	}
	if d.Type == "" {
		d.Type = "about:blank"
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(d.Status)
	_ = json.NewEncoder(w).Encode(d)
}
