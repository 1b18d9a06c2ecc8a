package threatlist

import "strings"

// Set is a merged block set: hosts and URL keys, each with the source (a
// feed's name, or the admin blocklist) that listed it. A Set is immutable
// once built, so readers share it without locks; the zero Set matches
// nothing.
type Set struct {
	hosts map[string]string
	urls  map[string]string
}

// Sourced is an entry with the name of the list that holds it.
type Sourced struct {
	Entry
	Source string
}

// NewSet builds a Set from entries. When two sources list the same entry
// the first one given is kept.
func NewSet(entries []Sourced) *Set {
	s := &Set{hosts: make(map[string]string), urls: make(map[string]string)}
	for _, e := range entries {
		m := s.urls
		if e.Kind == Host {
			m = s.hosts
		}
		if _, ok := m[e.Value]; !ok {
			m[e.Value] = e.Source
		}
	}
	return s
}

// Len is the number of entries.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.hosts) + len(s.urls)
}

// Match reports the entry that lists target, a URL normalised by
// targeturl (as stored), with its source. It is the edge's per-click
// check: a few map lookups (the URL key, the host and each parent domain)
// and no allocation.
func (s *Set) Match(target string) (Sourced, bool) {
	if s == nil {
		return Sourced{}, false
	}
	if len(s.urls) > 0 {
		key := URLKey(target)
		if src, ok := s.urls[key]; ok {
			return Sourced{Entry{URL, key}, src}, true
		}
	}
	if len(s.hosts) == 0 {
		return Sourced{}, false
	}
	for h := hostOf(target); h != ""; {
		if src, ok := s.hosts[h]; ok {
			return Sourced{Entry{Host, h}, src}, true
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			break
		}
		h = h[i+1:]
	}
	return Sourced{}, false
}

// MatchHost reports which source lists host (lower case) or a parent
// domain of it.
func (s *Set) MatchHost(host string) (source string, ok bool) {
	hit, ok := s.Match("http://" + host + "/")
	return hit.Source, ok
}

// hostOf is the host of a normalised URL (no credentials; an IPv6
// address without its brackets), without parsing it in full.
func hostOf(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	h := u[i+3:]
	if j := strings.IndexAny(h, "/?#"); j >= 0 {
		h = h[:j]
	}
	if strings.HasPrefix(h, "[") {
		if j := strings.IndexByte(h, ']'); j >= 0 {
			return h[1:j]
		}
		return ""
	}
	if j := strings.LastIndexByte(h, ':'); j >= 0 {
		h = h[:j]
	}
	return h
}
