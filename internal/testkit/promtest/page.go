package promtest

// A process's /metrics page in Prometheus's text exposition format: what
// the benchmarks and the load test read of the processes they start.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Page is the values of a /metrics page by series: the metric's name
// with its labels as the text format writes them, such as
// shortify_edge_cache_requests_total{result="hit",tier="l1"}.
type Page map[string]float64

// fetchTimeout bounds Get when ctx has no earlier deadline.
const fetchTimeout = 10 * time.Second

// Get reads the page at url through client (nil: http.DefaultClient) and
// keeps the samples whose series start with prefix ("": all).
func Get(ctx context.Context, client *http.Client, url, prefix string) (Page, error) {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics %s: %s", url, resp.Status)
	}
	s, err := Parse(resp.Body, prefix)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", url, err)
	}
	return s, nil
}

// Parse reads the sample lines of r whose series start with prefix;
// comments and other series are skipped. A series written twice is summed.
func Parse(r io.Reader, prefix string) (Page, error) {
	out := Page{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		out[line[:i]] += v
	}
	return out, sc.Err()
}

// Values are the named series' values, in order; a series that is absent
// is an error naming it.
func (s Page) Values(names ...string) ([]float64, error) {
	vals := make([]float64, len(names))
	var errs []error
	for i, name := range names {
		v, ok := s[name]
		if !ok {
			errs = append(errs, fmt.Errorf("no metric %s", name))
		}
		vals[i] = v
	}
	return vals, errors.Join(errs...)
}

// Add sums other into s (two processes' counters).
func (s Page) Add(other Page) {
	for k, v := range other {
		s[k] += v
	}
}

// Sub is s minus an earlier reading.
func (s Page) Sub(before Page) Page {
	out := Page{}
	for k, v := range s {
		out[k] = v - before[k]
	}
	return out
}
