package titlefetch

import "github.com/prometheus/client_golang/prometheus"

// Reasons a fetch stores no title: the label of
// shortify_cp_title_fetch_failures_total.
const (
	// ReasonForbidden: the page (or a redirect) is at an address that is
	// not allowed (safedial).
	ReasonForbidden = "forbidden"
	// ReasonRedirects: more redirects than allowed.
	ReasonRedirects = "redirects"
	// ReasonTimeout: no whole answer within the timeout.
	ReasonTimeout = "timeout"
	// ReasonStatus: the answer's status is not 2xx.
	ReasonStatus = "status"
	// ReasonNotHTML: the answer is not text/html.
	ReasonNotHTML = "not_html"
	// ReasonNoTitle: no <title> or og:title within the bytes read.
	ReasonNoTitle = "no_title"
	// ReasonNetwork: any other failure to connect or read.
	ReasonNetwork = "network"
	// ReasonStore: the title could not be written.
	ReasonStore = "store"
	// ReasonKept: the link had a title by then (its owner's), or was
	// deleted: nothing to do.
	ReasonKept = "kept"
)

// Reasons lists every Reason.
var Reasons = []string{ReasonForbidden, ReasonRedirects, ReasonTimeout, ReasonStatus, ReasonNotHTML, ReasonNoTitle, ReasonNetwork, ReasonStore, ReasonKept}

// Metrics are the fetcher's Prometheus counters:
//
//	shortify_cp_titles_fetched_total               titles fetched and stored
//	shortify_cp_title_fetch_failures_total{reason} fetches that stored nothing, by Reason
//	shortify_cp_title_fetches_dropped_total        links not fetched: the queue was full
type Metrics struct {
	Fetched  prometheus.Counter
	Failures *prometheus.CounterVec
	Dropped  prometheus.Counter
}

// NewMetrics makes the counters, every reason's from zero.
func NewMetrics() *Metrics {
	m := &Metrics{
		Fetched: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "shortify", Subsystem: "cp", Name: "titles_fetched_total",
			Help: "Titles of links created without one, fetched from the target page and stored.",
		}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shortify", Subsystem: "cp", Name: "title_fetch_failures_total",
			Help: "Title fetches that stored nothing, by reason (forbidden, redirects, timeout, status, not_html, no_title, network, store, kept).",
		}, []string{"reason"}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "shortify", Subsystem: "cp", Name: "title_fetches_dropped_total",
			Help: "Links whose title was not fetched because the fetch queue was full.",
		}),
	}
	for _, r := range Reasons {
		m.Failures.WithLabelValues(r)
	}
	return m
}

// Collectors returns the counters, to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Fetched, m.Failures, m.Dropped}
}

func (m *Metrics) fetched() {
	if m != nil {
		m.Fetched.Inc()
	}
}

func (m *Metrics) failed(reason string) {
	if m != nil {
		m.Failures.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) dropped() {
	if m != nil {
		m.Dropped.Inc()
	}
}
