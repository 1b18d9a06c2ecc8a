package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
)

// TestOutOfSpace: a write that failed for space, in the link store, in
// Raft or in a cluster call, is answered 507 with a problem document that
// names the full disk and a Retry-After; other failures keep their
// answers.
func TestOutOfSpace(t *testing.T) {
	t.Parallel()
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	full := fmt.Errorf("insert link: %w", &fs.PathError{Op: "write", Path: "links.db-wal", Err: syscall.ENOSPC})
	for name, tc := range map[string]struct {
		answer func(w http.ResponseWriter)
		status int
	}{
		"store, full":    {func(w http.ResponseWriter) { h.storeFailed(w, "create link", full) }, http.StatusInsufficientStorage},
		"store, other":   {func(w http.ResponseWriter) { h.storeFailed(w, "create link", errors.New("conn refused")) }, http.StatusServiceUnavailable},
		"raft, full":     {func(w http.ResponseWriter) { h.unavailable(w, "issue a short code", full) }, http.StatusInsufficientStorage},
		"raft, other":    {func(w http.ResponseWriter) { h.unavailable(w, "issue a short code", errors.New("no leader")) }, http.StatusServiceUnavailable},
		"cluster, full":  {func(w http.ResponseWriter) { h.clusterFailed(w, "store the key", full) }, http.StatusInsufficientStorage},
		"registry, full": {func(w http.ResponseWriter) { h.registryFailed(w, "store the key", full) }, http.StatusInsufficientStorage},
		"registry, link database down": {func(w http.ResponseWriter) {
			h.registryFailed(w, "revoke the key", fmt.Errorf("revoke: %w: %w", ErrStoreUnavailable, errors.New("conn refused")))
		}, http.StatusServiceUnavailable},
		"cluster, internal": {func(w http.ResponseWriter) { h.clusterFailed(w, "store the key", errors.New("odd")) }, http.StatusInternalServerError},
		"raft, no leader while the log is full": {func(w http.ResponseWriter) {
			hf := &Handler{log: h.log, deps: Deps{Issuer: watcher{full}}}
			hf.unavailable(w, "issue a link ID", errors.New("no leader"))
		}, http.StatusInsufficientStorage},
		"raft, no leader, log fine": {func(w http.ResponseWriter) {
			hf := &Handler{log: h.log, deps: Deps{Issuer: watcher{nil}}}
			hf.unavailable(w, "issue a link ID", errors.New("no leader"))
		}, http.StatusServiceUnavailable},
		"store down while the log is full": {func(w http.ResponseWriter) {
			hf := &Handler{log: h.log, deps: Deps{Issuer: watcher{full}}}
			hf.storeFailed(w, "create link", errors.New("conn refused"))
		}, http.StatusServiceUnavailable},
	} {
		rec := httptest.NewRecorder()
		tc.answer(rec)
		if rec.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", name, rec.Code, rec.Body, tc.status)
			continue
		}
		if tc.status != http.StatusInsufficientStorage {
			continue
		}
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("%s: %v: %s", name, err, rec.Body)
		}
		if p.Status != tc.status || !strings.Contains(p.Detail, "storage is full") || strings.Contains(p.Detail, "links.db") {
			t.Errorf("%s: problem %+v: want the full storage named, no file names", name, p)
		}
		if rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: headers %v", name, rec.Header())
		}
	}
}

// watcher is an Issuer whose Raft log is full (err) or not (nil).
type watcher struct{ err error }

func (watcher) NewID() (int64, error)     { return 0, errors.New("no lease") }
func (watcher) NextCode() (string, error) { return "", errors.New("no lease") }
func (w watcher) StorageFull() error      { return w.err }
