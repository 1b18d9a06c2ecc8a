package clustertls

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFiles: the CA and a node certificate written to a directory load
// back, keys are 0600, the certificate covers its hosts and both uses,
// and a CA is never overwritten.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("test CA", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(dir); err == nil {
		t.Fatal("WriteCA overwrote an existing CA")
	}
	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.WriteCert(dir, "node1", []string{"node1.example", "10.0.0.5"}, 0); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CAKeyFile, KeyFile("node1")} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want mode 0600", f, st.Mode(), err)
		}
	}
	c, err := Load(Files{CA: filepath.Join(dir, CACertFile), Cert: filepath.Join(dir, CertFile("node1")), Key: filepath.Join(dir, KeyFile("node1"))})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Names(), ","); got != "node1.example,10.0.0.5" {
		t.Fatalf("names %s", got)
	}
	if d := time.Until(c.NotAfter()); d < DefaultCertValidity-time.Hour || d > DefaultCertValidity {
		t.Fatalf("valid for %v", d)
	}
}

// TestRefusals: a certificate of another CA, an expired one, a CA as a
// node certificate, and half-set files are refused at load.
func TestRefusals(t *testing.T) {
	ca, _ := NewCA("a", 0)
	other, _ := NewCA("b", 0)
	crt, key, err := other.Issue("n", []string{"n"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(ca.CertPEM, crt, key); err == nil || !strings.Contains(err.Error(), "not a node certificate of cluster_ca") {
		t.Fatalf("another CA's certificate: %v", err)
	}
	short, _ := NewCA("short", time.Millisecond)
	crt, key, _ = short.Issue("n", []string{"n"}, 0)
	if _, err := New(short.CertPEM, crt, key); err == nil {
		t.Fatal("an expired certificate loaded")
	}
	if _, _, err := ca.Issue("n", nil, 0); err == nil {
		t.Fatal("a certificate without hosts")
	}
	if err := (Files{CA: "a", Cert: "b"}).Check(); err == nil || !strings.Contains(err.Error(), "cluster_key") {
		t.Fatalf("half-set files: %v", err)
	}
}

// TestMutualTLS: a server from Server accepts a client from Client with a
// certificate of the same CA and refuses one without, or with another
// CA's.
func TestMutualTLS(t *testing.T) {
	ca, _ := NewCA("a", 0)
	other, _ := NewCA("b", 0)
	srv, err := ca.Config("srv", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	member, _ := ca.Config("member", "127.0.0.1")
	stranger, _ := other.Config("stranger", "127.0.0.1")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.Server())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() == nil {
					_, _ = c.Write([]byte("ok"))
				}
			}()
		}
	}()
	try := func(cfg *tls.Config) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 2)
		_, err = c.Read(buf) // TLS 1.3: the server's verdict on the client arrives here
		return err
	}
	if err := try(member.Client("127.0.0.1")); err != nil {
		t.Fatalf("member refused: %v", err)
	}
	noCert := member.Client("127.0.0.1")
	noCert.Certificates = nil
	if err := try(noCert); err == nil {
		t.Fatal("a client without a certificate got in")
	}
	c := stranger.Client("127.0.0.1")
	c.InsecureSkipVerify = true
	if err := try(c); err == nil {
		t.Fatal("a client with another CA's certificate got in")
	}
	if err := try(stranger.Client("127.0.0.1")); err == nil {
		t.Fatal("the client trusted a server of another CA")
	}
}
