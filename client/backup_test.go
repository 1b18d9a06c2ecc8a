package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/internal/backupfile"
	"github.com/shortify/shortify/internal/testkit/apitest"
)

// TestBackup fetches a backup from the API of a real one-node cluster and
// checks the file; a viewer key is refused with a problem.
func TestBackup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := apitest.ServeCluster(t)
	c, err := client.New(srv.URL, client.WithAPIKey(srv.Admin))
	if err != nil {
		t.Fatal(err)
	}
	file, err := c.Backup(ctx)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	h, _, err := backupfile.Read(bytes.NewReader(file))
	if err != nil || h.NodeID != "solo" {
		t.Fatalf("the file: %+v, %v", h, err)
	}

	viewer, err := c.CreateKey(ctx, client.CreateKeyRequest{Name: "v", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	cv, err := client.New(srv.URL, client.WithAPIKey(viewer.Key))
	if err != nil {
		t.Fatal(err)
	}
	var p *client.Problem
	if _, err := cv.Backup(ctx); !errors.As(err, &p) || p.Status != http.StatusForbidden {
		t.Fatalf("a viewer's backup: %v, want a 403 problem", err)
	}
}
