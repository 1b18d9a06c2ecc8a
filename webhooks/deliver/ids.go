package deliver

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"strconv"

	"github.com/shortify/shortify/internal/base62"
)

// idWidth is the Base62 width of each 64-bit half of an ID: 11 digits
// hold any uint64, so an ID is its prefix and 22 characters.
const idWidth = 11

// coord is a record's place in Kafka: what makes IDs deterministic, so
// that a record consumed again after a crash makes the same deliveries.
type coord struct {
	Topic     string
	Partition int32
	Offset    int64
}

// writeTo feeds the coordinates to h unambiguously.
func (c coord) writeTo(h hash.Hash) {
	h.Write(strconv.AppendInt(nil, int64(len(c.Topic)), 10))
	h.Write([]byte{':'})
	h.Write([]byte(c.Topic))
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(c.Partition))
	binary.BigEndian.PutUint64(b[4:], uint64(c.Offset))
	h.Write(b[:])
}

// idOf is prefix and the first 128 bits of h's sum in Base62.
func idOf(prefix string, h hash.Hash) string {
	sum := h.Sum(nil)
	b := []byte(prefix)
	b = base62.AppendEncode(b, binary.BigEndian.Uint64(sum[:8]), idWidth)
	b = base62.AppendEncode(b, binary.BigEndian.Uint64(sum[8:16]), idWidth)
	return string(b)
}

// deliveryID is the webhook-id of the delivery of one record (a link
// event) to an endpoint.
func deliveryID(c coord, endpoint string) string {
	h := sha256.New()
	h.Write([]byte("delivery\x00" + endpoint + "\x00"))
	c.writeTo(h)
	return idOf("msg_", h)
}

// clickID identifies a click by its record.
func clickID(c coord) string {
	h := sha256.New()
	h.Write([]byte("click\x00"))
	c.writeTo(h)
	return idOf("clk_", h)
}

// batchID accumulates the webhook-id of a batch of clicks to an
// endpoint: a hash of the endpoint and of every click's record, so that
// the same batch made again after a crash has the same ID.
type batchID struct{ h hash.Hash }

func newBatchID(endpoint string) batchID {
	h := sha256.New()
	h.Write([]byte("clicks\x00" + endpoint + "\x00"))
	return batchID{h}
}

func (b batchID) add(c coord) { c.writeTo(b.h) }

func (b batchID) id() string { return idOf("msg_", b.h) }
