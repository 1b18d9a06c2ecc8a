package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The hostile corpus lives in testdata/hostile, one case a line as JSON
// (JSON, so that a case can hold a tab, CR, LF or NUL):
//
//   - targets.jsonl and aliases.jsonl are creates; a target case whose
//     why starts with "loop:" leads to this server, and stays refused
//     with private targets allowed;
//   - api.jsonl are requests sent through net/http;
//   - raw.jsonl are bytes written to a TCP socket as they are (what
//     net/http would refuse to send);
//   - dashboard.jsonl is what TestHostileDashboard plants in the fields
//     the dashboard shows.
//
// Placeholders, replaced before a case is sent: {addr} and {host} the
// server's host:port, {port} its port, {code} a link that exists, {key}
// the admin key, {long} 5,000 letters, {huge} 2 MB of letters.
const hostileDir = "testdata/hostile"

// hostileCase is one line of a corpus file. Fields a file does not use
// stay empty.
type hostileCase struct {
	Why string `json:"why"`
	// Want is "refuse" (a 4xx, nothing created), "create" (a 201) or
	// "any" (no 5xx; whatever was created is checked like the rest).
	Want string `json:"want"`
	// Stored is the URL the API must return for a created target, when
	// it differs from the input (normalisation).
	Stored string `json:"stored"`
	URL    string `json:"url"`
	Alias  string `json:"alias"`
	// api.jsonl: a request; the body is Body with {open} and {close}
	// replaced by Open and Close repeated Times times.
	Method      string `json:"method"`
	Path        string `json:"path"`
	ContentType string `json:"content_type"` // "" JSON, "-" none
	Body        string `json:"body"`
	Open        string `json:"open"`
	Close       string `json:"close"`
	Times       int    `json:"times"`
	// Headers are extra request headers (placeholders expanded).
	Headers map[string]string `json:"headers"`
	// raw.jsonl: the bytes to send; Latin1 sends each character below
	// U+0100 as one byte (bytes that are not UTF-8); MaxResponses is how
	// many responses the bytes may draw (default 1).
	Raw          string `json:"raw"`
	Latin1       bool   `json:"latin1"`
	MaxResponses int    `json:"max_responses"`
	// dashboard.jsonl: markup to plant in every stored field the
	// dashboard shows, or a Referer whose host the dashboard Shows so
	// (in punycode).
	Payload string `json:"payload"`
	Referer string `json:"referer"`
	Shows   string `json:"shows"`
	// AllowStatus is a 5xx that is the protocol's answer to the case
	// (505 to an HTTP version the server does not speak), not a failure.
	AllowStatus int `json:"allow_status"`
}

// loadCorpus reads one corpus file.
func loadCorpus(t *testing.T, name string) []hostileCase {
	t.Helper()
	f, err := os.Open(filepath.Join(hostileDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []hostileCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var c hostileCase
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("%s:%d: %v", name, line, err)
		}
		switch c.Want {
		case "refuse", "create", "any", "":
		default:
			t.Fatalf("%s:%d: want %q is not refuse, create or any", name, line, c.Want)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s holds no case", name)
	}
	return cases
}

// quoteCase quotes s for a test message, shortened.
func quoteCase(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// TestHostileCorpus checks the corpus files without a server, so that a
// malformed new line fails at once and says where: each case says why,
// and has what its file needs.
func TestHostileCorpus(t *testing.T) {
	need := map[string]func(c hostileCase) bool{
		"targets.jsonl":   func(c hostileCase) bool { return c.Want != "" },
		"aliases.jsonl":   func(c hostileCase) bool { return c.Want != "" && c.Alias != "" },
		"api.jsonl":       func(c hostileCase) bool { return c.Want != "" && c.Method != "" && c.Path != "" },
		"raw.jsonl":       func(c hostileCase) bool { return c.Raw != "" },
		"dashboard.jsonl": func(c hostileCase) bool { return c.Payload != "" || (c.Referer != "" && c.Shows != "") },
	}
	entries, err := os.ReadDir(hostileDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		ok, known := need[e.Name()]
		if !known {
			t.Errorf("%s: a corpus file no test reads", e.Name())
			continue
		}
		for i, c := range loadCorpus(t, e.Name()) {
			if c.Why == "" || !ok(c) {
				t.Errorf("%s: case %d (%q) lacks what the file's cases need", e.Name(), i+1, c.Why)
			}
		}
	}
}
