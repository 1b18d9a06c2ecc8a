package smartlink

import "strings"

// This file reads raw query strings without allocating: the query
// condition compares parameters as url.ParseQuery would decode them
// ("+" is a space, %XX a byte), and ForwardQuery merges the visitor's
// query into the target's.

// queryHas reports whether raw's first parameter named name has the value
// value (both compared decoded; a parameter with a malformed escape
// counts as absent, as url.ParseQuery drops it).
func queryHas(raw, name, value string) bool {
	for raw != "" {
		var p string
		p, raw = cutByte(raw, '&')
		k, v := cutByte(p, '=')
		if decodedEqual(k, name) && wellFormed(v) {
			return decodedEqual(v, value)
		}
	}
	return false
}

// wellFormed reports whether every escape of the query component s is.
func wellFormed(s string) bool {
	for i := 0; i < len(s); {
		_, next, ok := unescapeAt(s, i)
		if !ok {
			return false
		}
		i = next
	}
	return true
}

// unescapeAt decodes the byte of a query component at s[i]: the byte, the
// index after it, and ok false for a malformed escape.
func unescapeAt(s string, i int) (b byte, next int, ok bool) {
	switch c := s[i]; c {
	case '+':
		return ' ', i + 1, true
	case '%':
		if i+2 >= len(s) {
			return 0, len(s), false
		}
		h, l := unhex(s[i+1]), unhex(s[i+2])
		if h < 0 || l < 0 {
			return 0, len(s), false
		}
		return byte(h<<4 | l), i + 3, true
	default:
		return c, i + 1, true
	}
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// decodedEqual reports whether the query component enc decodes to plain.
func decodedEqual(enc, plain string) bool {
	j := 0
	for i := 0; i < len(enc); {
		b, next, ok := unescapeAt(enc, i)
		if !ok || j >= len(plain) || plain[j] != b {
			return false
		}
		i, j = next, j+1
	}
	return j == len(plain)
}

// sameName reports whether two encoded query components decode alike; a
// malformed one equals only its own bytes.
func sameName(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x, ni, okA := unescapeAt(a, i)
		y, nj, okB := unescapeAt(b, j)
		if !okA || !okB {
			return a == b
		}
		if x != y {
			return false
		}
		i, j = ni, nj
	}
	return i == len(a) && j == len(b)
}

// named reports whether raw holds a parameter named like the encoded
// name.
func named(raw, name string) bool {
	for raw != "" {
		var p string
		p, raw = cutByte(raw, '&')
		if k, _ := cutByte(p, '='); p != "" && sameName(k, name) {
			return true
		}
	}
	return false
}

// ForwardQuery returns target with the visitor's raw query merged in when
// the link forwards queries: the target's parameters first, then the
// visitor's, a visitor parameter named like one of the target's left out
// (or, with QueryOverride, the target's left out instead); the target's
// fragment stays last. Bytes of the visitor's query that cannot stand in
// a URL's query ("#", spaces, controls, non-ASCII) are percent-encoded,
// so the query cannot end early or split a header. It returns target
// itself, without allocating, when rawQuery is empty or the link does not
// forward.
func (c Compiled) ForwardQuery(target, rawQuery string) string {
	if rawQuery == "" {
		return target
	}
	_, has := c.open()
	if has&HasForwardQuery == 0 {
		return target
	}
	override := c.QueryOverride()
	rest, frag := target, ""
	if i := strings.IndexByte(target, '#'); i >= 0 {
		rest, frag = target[:i], target[i:]
	}
	base, own, _ := strings.Cut(rest, "?")
	var b strings.Builder
	b.Grow(len(target) + len(rawQuery) + 1)
	b.WriteString(base)
	sep := byte('?')
	for q := own; q != ""; {
		var p string
		p, q = cutByte(q, '&')
		if k, _ := cutByte(p, '='); p == "" || override && named(rawQuery, k) {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(p)
	}
	for q := rawQuery; q != ""; {
		var p string
		p, q = cutByte(q, '&')
		if k, _ := cutByte(p, '='); p == "" || !override && named(own, k) {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		writeQueryBytes(&b, p)
	}
	b.WriteString(frag)
	return b.String()
}

// writeQueryBytes writes p with the bytes a query may not hold escaped.
func writeQueryBytes(b *strings.Builder, p string) {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c == '#' || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' ||
			c == '{' || c == '|' || c == '}' || c >= 0x7f {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
}
