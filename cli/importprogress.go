package cli

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// byteCounter counts the bytes of the file the parser has read, which is
// how far the import is when the number of links is not known ahead.
type byteCounter struct {
	r io.Reader
	n atomic.Int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// importProgress shows a run's progress on w: a bar with the rate and
// the time left on a terminal, a plain line every plainEvery otherwise
// (a log, a CI job).
type importProgress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	size  int64 // the file's size (0: not known, read from a pipe)
	file  *byteCounter
	start time.Time
	last  time.Time
	now   func() time.Time
	every time.Duration
}

// plainEvery is the interval of the plain progress lines.
const plainEvery = 5 * time.Second

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newImportProgress(w io.Writer, size int64, file *byteCounter, now func() time.Time) *importProgress {
	p := &importProgress{w: w, size: size, file: file, now: now, every: plainEvery}
	p.start, p.last = now(), now()
	if isTerminal(w) {
		max := size
		if max <= 0 {
			max = -1 // a spinner
		}
		p.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// update is called by the run every quarter second.
func (p *importProgress) update(im *importer) {
	done := im.created.Load() + im.existing.Load() + im.failed.Load() + im.skipped.Load()
	now := p.now()
	elapsed := now.Sub(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%d links, %.0f/s", done, rate))
		p.bar.Set64(p.file.n.Load()) //nolint:errcheck // a display
		return
	}
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	line := fmt.Sprintf("import: %d links done (%d created, %d already there, %d failed), %.0f links/s",
		done, im.created.Load(), im.existing.Load(), im.failed.Load(), rate)
	if read := p.file.n.Load(); p.size > 0 && read > 0 {
		eta := time.Duration(float64(elapsed) * float64(p.size-read) / float64(read)).Round(time.Second)
		line += fmt.Sprintf(", %d%% of the file, about %s left", 100*read/p.size, eta)
	}
	fmt.Fprintln(p.w, line)
}

// finish clears the bar, or prints the last plain line.
func (p *importProgress) finish(r *ImportReport) {
	if p.bar != nil {
		p.bar.Finish() //nolint:errcheck // a display
		return
	}
	fmt.Fprintf(p.w, "import: finished, %d records read (%d created, %d already there, %d failed) in %s\n",
		r.Read, r.Created, r.Existing, len(r.Failed), r.Elapsed.Round(time.Millisecond))
}
