package backupfile

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	payload := []byte(`{"version":7,"next_sequence":42}` + "\n")
	file, h, err := Encode(Header{TakenAt: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC), Index: 812, Term: 3, NodeID: "node1", SnapshotVersion: 7}, payload)
	if err != nil {
		t.Fatal(err)
	}
	if h.Format != Format || h.Version != Version || h.Size != int64(len(payload)) || len(h.SHA256) != 64 {
		t.Errorf("header %+v", h)
	}
	got, body, err := Read(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if got != h || !bytes.Equal(body, payload) {
		t.Errorf("read %+v %q, want %+v %q", got, body, h, payload)
	}
}

func TestReadRefuses(t *testing.T) {
	good, _, err := Encode(Header{NodeID: "n1", Index: 1}, []byte(`{"version":7}`))
	if err != nil {
		t.Fatal(err)
	}
	nl := bytes.IndexByte(good, '\n')
	header, payload := string(good[:nl]), string(good[nl+1:])
	flip := func(s string, i int) string { b := []byte(s); b[i] ^= 1; return string(b) }
	tests := []struct {
		name, file, want string
	}{
		{"empty", "", "no header line"},
		{"no newline", header, "no header line"},
		{"not JSON", "hello\n" + payload, "header"},
		{"unknown header field", strings.Replace(header, `{`, `{"extra":1,`, 1) + "\n" + payload, "header"},
		{"other format", strings.Replace(header, Format, "tarball", 1) + "\n" + payload, "format"},
		{"newer version", strings.Replace(header, `"version":1`, `"version":9`, 1) + "\n" + payload, "newer release"},
		{"cut short", header + "\n" + payload[:len(payload)-2], "cut short"},
		{"trailing bytes", header + "\n" + payload + "x", "bytes after"},
		{"changed byte", header + "\n" + flip(payload, 3), "SHA-256"},
		{"bad checksum field", strings.Replace(header, `"sha256":"`, `"sha256":"zz`, 1) + "\n" + payload, "sha256"},
		{"huge size", strings.Replace(header, `"size":13`, `"size":999999999999`, 1) + "\n" + payload, "size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Read(strings.NewReader(tt.file))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestReadBoundsTheHeader(t *testing.T) {
	_, _, err := Read(strings.NewReader(strings.Repeat("a", maxHeader+10)))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}
