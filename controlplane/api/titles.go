package api

import "github.com/shortify/shortify/internal/linkstore"

// TitleFetcher fetches, in the background, the title of a link created
// without one (package controlplane/titlefetch). Enqueue must return at
// once: it runs on the create's path, whose answer never waits for the
// target page.
type TitleFetcher interface {
	Enqueue(l linkstore.Link) bool
}

// fetchTitle queues a new link for its title when it has none and the
// node fetches titles. No link event follows the title's arrival: titles
// are not on the redirect path (neither the L2 value nor the edges' L1
// hold them), so no cache goes stale.
func (h *Handler) fetchTitle(l linkstore.Link) {
	if h.deps.Titles != nil && l.Title == "" {
		h.deps.Titles.Enqueue(l)
	}
}
