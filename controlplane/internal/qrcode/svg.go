package qrcode

import (
	"bytes"
	"encoding/xml"
	"strconv"
)

// EncodeSVG draws text as a QR code in an SVG document: opts.Size CSS
// pixels wide and high, a viewBox of one unit per module (quiet zone
// included), a white rectangle and one black path made of the runs of dark
// modules of each row, drawn with crisp edges. The text is also the
// document's <title>, XML-escaped. Errors are those of Encode.
func EncodeSVG(text string, opts Options) ([]byte, error) {
	s, err := encode(text, opts)
	if err != nil {
		return nil, err
	}
	n := strconv.Itoa(s.n)
	size := strconv.Itoa(opts.Size)
	var b bytes.Buffer
	b.Grow(512 + len(text) + s.n*s.n)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="` + size + `" height="` + size +
		`" viewBox="0 0 ` + n + ` ` + n + `" shape-rendering="crispEdges">`)
	b.WriteString(`<title>`)
	// EscapeText cannot fail on a bytes.Buffer; it escapes markup
	// characters and replaces characters XML cannot hold.
	_ = xml.EscapeText(&b, []byte(text))
	b.WriteString(`</title>`)
	b.WriteString(`<rect width="` + n + `" height="` + n + `" fill="#fff"/>`)
	b.WriteString(`<path fill="#000" d="`)
	num := make([]byte, 0, 8)
	for y := 0; y < s.n; y++ {
		for x := 0; x < s.n; {
			if !s.dark(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < s.n && s.dark(x+run, y) {
				run++
			}
			// A run is a rectangle one module high: M x y h run v 1 h -run z.
			b.WriteByte('M')
			b.Write(strconv.AppendInt(num[:0], int64(x), 10))
			b.WriteByte(' ')
			b.Write(strconv.AppendInt(num[:0], int64(y), 10))
			b.WriteByte('h')
			b.Write(strconv.AppendInt(num[:0], int64(run), 10))
			b.WriteString("v1h-")
			b.Write(strconv.AppendInt(num[:0], int64(run), 10))
			b.WriteByte('z')
			x += run
		}
	}
	b.WriteString(`"/></svg>` + "\n")
	return b.Bytes(), nil
}
