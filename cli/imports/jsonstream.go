package imports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// jsonStream walks the items of an array inside one or several
// concatenated JSON documents (an API's pages saved one after the other),
// reached by path ({"shortUrls": {"data": [...]}} is path shortUrls,
// data), or of a top-level array. It holds one item at a time.
type jsonStream struct {
	cr      *lineCounter
	dec     *json.Decoder
	path    []string
	inArray bool
	depth   int // objects open around the array
	found   bool
}

// lineCounter feeds the decoder at most 64 KiB per read (so that the
// budget below holds however big the decoder's buffer grew), remembers
// where the newlines are until the decoder has passed them, and stops
// an item that takes more than the budget.
type lineCounter struct {
	r      io.Reader
	off    int64   // bytes read so far
	nl     []int64 // offsets of newlines not yet passed
	passed int     // newlines passed
	left   int     // bytes the current item may still read
}

const readChunk = 64 << 10

func (c *lineCounter) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("an item of the JSON is longer than %d bytes", maxRecordBytes)
	}
	if len(p) > readChunk {
		p = p[:readChunk]
	}
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' {
			c.nl = append(c.nl, c.off+int64(i))
		}
	}
	c.off += int64(n)
	c.left -= n
	return n, err
}

// lineAt is the line of byte offset off; offsets must not go back.
func (c *lineCounter) lineAt(off int64) int {
	i := 0
	for i < len(c.nl) && c.nl[i] < off {
		i++
	}
	c.passed += i
	c.nl = c.nl[i:]
	return c.passed + 1
}

func (c *lineCounter) reset() { c.left = maxRecordBytes + readChunk }

func newJSONStream(r io.Reader, path ...string) *jsonStream {
	cr := &lineCounter{r: r}
	cr.reset()
	return &jsonStream{cr: cr, dec: json.NewDecoder(cr), path: path}
}

// next returns the next item's bytes and the line it starts on.
func (s *jsonStream) next() (json.RawMessage, int, error) {
	for {
		if s.inArray {
			if s.dec.More() {
				s.cr.reset()
				var raw json.RawMessage
				if err := s.dec.Decode(&raw); err != nil {
					return nil, 0, s.fatal(err)
				}
				return raw, s.cr.lineAt(s.dec.InputOffset() - int64(len(raw))), nil
			}
			if _, err := s.dec.Token(); err != nil { // the array's ']'
				return nil, 0, s.fatal(err)
			}
			s.inArray = false
			if err := s.close(); err != nil {
				return nil, 0, err
			}
		}
		s.cr.reset()
		tok, err := s.dec.Token()
		if errors.Is(err, io.EOF) {
			if !s.found {
				return nil, 0, fmt.Errorf("no %s array in the JSON", s.where())
			}
			return nil, 0, io.EOF
		}
		if err != nil {
			return nil, 0, s.fatal(err)
		}
		switch tok {
		case json.Delim('['):
			s.inArray, s.found = true, true
		case json.Delim('{'):
			s.depth = 1
			if err := s.seek(0); err != nil {
				return nil, 0, err
			}
		default:
			return nil, 0, fmt.Errorf("line %d: the JSON is neither an object nor an array", s.line())
		}
	}
}

// seek reads the keys of the object just opened until path[level] leads
// to the array.
func (s *jsonStream) seek(level int) error {
	for {
		s.cr.reset()
		tok, err := s.dec.Token()
		if err != nil {
			return s.fatal(err)
		}
		if tok == json.Delim('}') {
			return fmt.Errorf("line %d: a JSON document has no %s array", s.line(), s.where())
		}
		key, _ := tok.(string)
		if !strings.EqualFold(key, s.path[level]) {
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		tok, err = s.dec.Token()
		if err != nil {
			return s.fatal(err)
		}
		switch {
		case tok == nil: // "data": null, an empty page
			s.found = true
			return s.close()
		case level == len(s.path)-1 && tok == json.Delim('['):
			s.inArray, s.found = true, true
			return nil
		case level < len(s.path)-1 && tok == json.Delim('{'):
			s.depth++
			return s.seek(level + 1)
		}
		return fmt.Errorf("line %d: %s is not what the export has there", s.line(), s.where())
	}
}

// close reads the rest of the objects around the array.
func (s *jsonStream) close() error {
	for s.depth > 0 {
		s.cr.reset()
		tok, err := s.dec.Token()
		if err != nil {
			return s.fatal(err)
		}
		if tok == json.Delim('}') {
			s.depth--
			continue
		}
		if err := s.skip(); err != nil {
			return err
		}
	}
	return nil
}

// skip reads one value (after its key) without keeping it.
func (s *jsonStream) skip() error {
	s.cr.reset()
	var v json.RawMessage
	if err := s.dec.Decode(&v); err != nil {
		return s.fatal(err)
	}
	return nil
}

func (s *jsonStream) where() string { return strings.Join(s.path, ".") }

func (s *jsonStream) line() int { return s.cr.lineAt(s.dec.InputOffset()) }

// fatal is an error that ends the stream: the decoder cannot find the
// next item after it.
func (s *jsonStream) fatal(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("the JSON ends early: %w", io.ErrUnexpectedEOF)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("line %d: bad JSON: %v", s.cr.lineAt(max(se.Offset-1, s.dec.InputOffset())), se)
	}
	return fmt.Errorf("line %d: %w", s.line(), err)
}

// decodeItem unmarshals one item into v; a mismatch is that record's
// LineError.
func decodeItem(raw json.RawMessage, line int, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &LineError{Line: line, Reason: fmt.Sprintf("the field %q holds a JSON %s", te.Field, te.Value)}
		}
		return &LineError{Line: line, Reason: err.Error()}
	}
	return nil
}
