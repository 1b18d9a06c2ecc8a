// Package backupfile is the format of a Shortify control-plane backup
// (`shortify backup`, GET /api/v1/cluster/backup): one JSON header line
// followed by the Raft FSM's snapshot exactly as the FSM writes it.
//
//	{"format":"shortify-backup","version":1,"taken_at":"…","index":812,"term":3,
//	 "node_id":"node1","snapshot_version":7,"size":5120,"sha256":"9f2c…"}\n
//	<size bytes of FSM snapshot (JSON)>
//
// The header says where the snapshot comes from (the Raft index and term
// it reflects, the leader that took it, its wall clock then) and carries
// the payload's length and SHA-256, so that a restore refuses a file cut
// short or changed. The format is versioned on its own (Version) and
// independently of the FSM's snapshot format (SnapshotVersion), which
// the FSM's Restore checks.
package backupfile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Format is the header's format name.
const Format = "shortify-backup"

// Version is the version of the file format this package writes and reads.
const Version = 1

// MaxSize bounds the snapshot a file may carry. The FSM holds small
// coordination state (keys, leases, workspaces, domains): megabytes at
// most.
const MaxSize = 256 << 20

// maxHeader bounds the header line.
const maxHeader = 64 << 10

// MediaType is the media type of a backup file (GET /api/v1/cluster/backup).
const MediaType = "application/vnd.shortify.backup"

// ErrInvalid is wrapped by every error Read returns for a file that is not
// a whole, unchanged backup of a format this release reads.
var ErrInvalid = errors.New("not a valid Shortify backup")

// Header describes a backup.
type Header struct {
	// Format is always "shortify-backup".
	Format string `json:"format"`
	// Version is the file format's version.
	Version int `json:"version"`
	// TakenAt is the wall clock of the node that took the snapshot.
	TakenAt time.Time `json:"taken_at"`
	// Index and Term are the Raft log position the snapshot reflects:
	// every entry up to Index was applied.
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	// NodeID is the node that took it (the leader).
	NodeID string `json:"node_id"`
	// SnapshotVersion is the FSM snapshot format version of the payload.
	SnapshotVersion int `json:"snapshot_version"`
	// Size is the payload's length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the payload's SHA-256, in hex.
	SHA256 string `json:"sha256"`
}

// Encode returns the file for payload: h's Format, Version, Size and
// SHA256 are set from it.
func Encode(h Header, payload []byte) ([]byte, Header, error) {
	if len(payload) > MaxSize {
		return nil, h, fmt.Errorf("backupfile: snapshot of %d bytes is above %d", len(payload), MaxSize)
	}
	sum := sha256.Sum256(payload)
	h.Format, h.Version = Format, Version
	h.Size, h.SHA256 = int64(len(payload)), hex.EncodeToString(sum[:])
	line, err := json.Marshal(h)
	if err != nil {
		return nil, h, fmt.Errorf("backupfile: encode header: %w", err)
	}
	out := make([]byte, 0, len(line)+1+len(payload))
	out = append(append(append(out, line...), '\n'), payload...)
	return out, h, nil
}

// Read reads a whole backup from r and checks it: the header, the
// payload's length and checksum, nothing after it. Errors wrap ErrInvalid
// when the file is at fault.
func Read(r io.Reader) (Header, []byte, error) {
	br := bufio.NewReaderSize(r, 4096)
	line, err := readLine(br)
	if err != nil {
		return Header{}, nil, err
	}
	var h Header
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return Header{}, nil, fmt.Errorf("%w: header: %v", ErrInvalid, err)
	}
	switch {
	case h.Format != Format:
		return h, nil, fmt.Errorf("%w: format %q, want %q", ErrInvalid, h.Format, Format)
	case h.Version > Version:
		return h, nil, fmt.Errorf("%w: file format version %d was written by a newer release (this one reads %d)", ErrInvalid, h.Version, Version)
	case h.Version < 1:
		return h, nil, fmt.Errorf("%w: file format version %d", ErrInvalid, h.Version)
	case h.Size < 0 || h.Size > MaxSize:
		return h, nil, fmt.Errorf("%w: snapshot size %d not in 0..%d", ErrInvalid, h.Size, MaxSize)
	}
	want, err := hex.DecodeString(h.SHA256)
	if err != nil || len(want) != sha256.Size {
		return h, nil, fmt.Errorf("%w: sha256 %q is not a hex SHA-256", ErrInvalid, h.SHA256)
	}
	payload := make([]byte, h.Size)
	if _, err := io.ReadFull(br, payload); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return h, nil, fmt.Errorf("%w: the snapshot is cut short (the header says %d bytes)", ErrInvalid, h.Size)
		}
		return h, nil, fmt.Errorf("backupfile: read snapshot: %w", err)
	}
	if n, _ := br.Read(make([]byte, 1)); n > 0 {
		return h, nil, fmt.Errorf("%w: bytes after the %d-byte snapshot", ErrInvalid, h.Size)
	}
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], want) {
		return h, nil, fmt.Errorf("%w: the snapshot's SHA-256 is %x, the header says %s: the file was changed or damaged", ErrInvalid, got, h.SHA256)
	}
	return h, payload, nil
}

// readLine reads the header line, bounded by maxHeader.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxHeader {
			return nil, fmt.Errorf("%w: no header line within %d bytes", ErrInvalid, maxHeader)
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%w: no header line (an empty or truncated file)", ErrInvalid)
		default:
			return nil, fmt.Errorf("backupfile: read header: %w", err)
		}
	}
}
