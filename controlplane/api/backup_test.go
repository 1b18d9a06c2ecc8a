package api_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/backupfile"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// TestGetBackup: an admin gets a file that checks out, with its checksum,
// version and index repeated in headers; a member gets it on the internal
// handler; it is never cached.
func TestGetBackup(t *testing.T) {
	e := newClusterEnv(t, true)
	for name, w := range map[string]interface {
		Result() *http.Response
	}{
		"admin":  e.do(t, "GET", "/api/v1/cluster/backup", "", "", nil),
		"member": e.member(t, "GET", "/api/v1/cluster/backup", "", "", nil),
	} {
		resp := w.Result()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body.String())
		}
		h, payload, err := backupfile.Read(bytes.NewReader(body.Bytes()))
		if err != nil {
			t.Fatalf("%s: the file: %v", name, err)
		}
		if h.NodeID != "solo" || len(payload) == 0 {
			t.Errorf("%s: header %+v", name, h)
		}
		hd := resp.Header
		if hd.Get("Content-Type") != backupfile.MediaType || hd.Get("Cache-Control") != "no-store" ||
			hd.Get(api.BackupSHA256Header) != h.SHA256 || hd.Get(api.BackupVersionHeader) != strconv.Itoa(h.Version) ||
			hd.Get(api.BackupIndexHeader) != strconv.FormatUint(h.Index, 10) {
			t.Errorf("%s: headers %v, header line %+v", name, hd, h)
		}
	}
}

// TestGetBackupNeedsAMember: the internal handler serves no one without a
// cluster certificate.
func TestGetBackupNeedsAMember(t *testing.T) {
	e := newClusterEnv(t, true)
	w := serve(e.internal, request("GET", "/api/v1/cluster/backup", "", "", nil))
	if w.Code != http.StatusForbidden {
		t.Fatalf("without a certificate: %d %s", w.Code, w.Body.String())
	}
}

// TestGetBackupInstanceAdminOnly: the file holds the code key, so a
// workspace's admin, a creator and a viewer are refused.
func TestGetBackupInstanceAdminOnly(t *testing.T) {
	e := newClusterEnv(t, true)
	ring := &keyRing{}
	h, err := api.New(api.Config{PublicURL: testPublicURL}, api.Deps{Store: teststore.SQLite(t), Issuer: e.node, Cluster: e.node, Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{
		"workspace admin": ring.mintIn(t, apikey.Admin, 2),
		"creator":         ring.mint(t, apikey.Creator),
		"viewer":          ring.mint(t, apikey.Viewer),
	} {
		w := serve(h, request("GET", "/api/v1/cluster/backup", "", "", map[string]string{"Authorization": "Bearer " + key}))
		if w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", name, w.Code, w.Body.String())
		}
	}
	w := serve(h, request("GET", "/api/v1/cluster/backup", "", "", map[string]string{"Authorization": "Bearer " + ring.mint(t, apikey.Admin)}))
	if w.Code != http.StatusOK {
		t.Errorf("instance admin: %d %s", w.Code, w.Body.String())
	}
}
