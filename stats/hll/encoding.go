package hll

import (
	"encoding/binary"
	"fmt"
)

// The encoding, version 1:
//
//	byte 0     version (1)
//	byte 1     precision (14)
//	byte 2     form: 0 sparse, 1 dense
//	sparse:    uvarint n, then n uvarints: the first entry, then the
//	           difference of each entry to the one before; an entry is
//	           register<<8 | rank, so entries strictly increase
//	dense:     the 16,384 registers, six bits each, big-endian bit order
//	           (12,288 bytes)
//
// An empty sketch is 4 bytes, a sketch of a few visitors a few bytes per
// visitor, a dense one 12,291 bytes.
const (
	version    = 1
	formSparse = 0
	formDense  = 1
	headerLen  = 3
	denseLen   = Registers * 6 / 8
)

// MarshalBinary encodes the sketch (see AppendBinary).
func (s *Sketch) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(nil)
}

// MaxEncodedLen bounds the bytes AppendBinary appends for s, so that a
// writer of many sketches can size its buffer once.
func (s *Sketch) MaxEncodedLen() int {
	if s.dense != nil {
		return headerLen + Registers*3/4
	}
	return headerLen + binary.MaxVarintLen64 + 5*len(s.sparse) // a uint32 delta takes at most 5
}

// AppendBinary appends the versioned encoding of the sketch to b.
func (s *Sketch) AppendBinary(b []byte) ([]byte, error) {
	if s.dense == nil {
		b = append(b, version, Precision, formSparse)
		b = binary.AppendUvarint(b, uint64(len(s.sparse)))
		prev := uint32(0)
		for _, e := range s.sparse {
			b = binary.AppendUvarint(b, uint64(e-prev))
			prev = e
		}
		return b, nil
	}
	b = append(b, version, Precision, formDense)
	// Four six-bit registers fill three bytes.
	for i := 0; i < Registers; i += 4 {
		r := s.dense[i : i+4 : i+4]
		v := uint32(r[0])<<18 | uint32(r[1])<<12 | uint32(r[2])<<6 | uint32(r[3])
		b = append(b, byte(v>>16), byte(v>>8), byte(v))
	}
	return b, nil
}

// UnmarshalBinary replaces s with the sketch encoded in data. It returns
// an error wrapping ErrFormat for anything that MarshalBinary could not
// have produced: an unknown version or precision, ranks out of range,
// unsorted or repeated registers, truncated or trailing bytes.
func (s *Sketch) UnmarshalBinary(data []byte) error {
	if len(data) < headerLen {
		return fmt.Errorf("%w: %d bytes", ErrFormat, len(data))
	}
	if data[0] != version {
		return fmt.Errorf("%w: unknown version %d", ErrFormat, data[0])
	}
	if data[1] != Precision {
		return fmt.Errorf("%w: precision %d, want %d", ErrFormat, data[1], Precision)
	}
	body := data[headerLen:]
	switch data[2] {
	case formSparse:
		return s.unmarshalSparse(body)
	case formDense:
		return s.unmarshalDense(body)
	default:
		return fmt.Errorf("%w: unknown form %d", ErrFormat, data[2])
	}
}

func (s *Sketch) unmarshalSparse(body []byte) error {
	n, k := uvarint(body)
	if k <= 0 || n > sparseMax {
		return fmt.Errorf("%w: bad sparse length", ErrFormat)
	}
	body = body[k:]
	entries := make([]uint32, 0, n)
	var prev uint64
	for i := range n {
		d, k := uvarint(body)
		if k <= 0 {
			return fmt.Errorf("%w: truncated sparse entry %d", ErrFormat, i)
		}
		body = body[k:]
		e := prev + d
		// Strictly increasing registers: the delta must move past prev's
		// register (the first entry may be register 0).
		if e >= Registers<<8 || (i > 0 && e>>8 <= prev>>8) {
			return fmt.Errorf("%w: sparse entry %d out of order or range", ErrFormat, i)
		}
		if r := uint8(e); r == 0 || r > maxRank {
			return fmt.Errorf("%w: rank %d", ErrFormat, r)
		}
		entries = append(entries, uint32(e))
		prev = e
	}
	if len(body) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrFormat, len(body))
	}
	*s = Sketch{sparse: entries}
	if len(entries) > sparseMax {
		s.toDense()
	}
	return nil
}

func (s *Sketch) unmarshalDense(body []byte) error {
	if len(body) != denseLen {
		return fmt.Errorf("%w: dense body of %d bytes, want %d", ErrFormat, len(body), denseLen)
	}
	d := make([]uint8, Registers)
	for i, j := 0, 0; i < Registers; i, j = i+4, j+3 {
		v := uint32(body[j])<<16 | uint32(body[j+1])<<8 | uint32(body[j+2])
		d[i], d[i+1], d[i+2], d[i+3] = uint8(v>>18&63), uint8(v>>12&63), uint8(v>>6&63), uint8(v&63)
	}
	for _, r := range d {
		if r > maxRank {
			return fmt.Errorf("%w: rank %d", ErrFormat, r)
		}
	}
	*s = Sketch{dense: d}
	return nil
}

// uvarint is binary.Uvarint that refuses non-minimal encodings (a last
// byte of zero), so that every sketch has exactly one encoding.
func uvarint(b []byte) (uint64, int) {
	v, k := binary.Uvarint(b)
	if k > 1 && b[k-1] == 0 {
		return 0, -1
	}
	return v, k
}
