package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// rows writes aligned rows (cells joined by tabs) without a header.
func rows(w io.Writer, rs [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rs {
		for i, c := range r {
			r[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// printImportReport writes the summary of a run for people: the counts,
// then every renamed link (original code → new code) and every record
// that was not imported, with its line.
func printImportReport(w io.Writer, from string, r *ImportReport) error {
	verb := "Imported"
	if r.DryRun {
		verb = "Checked (dry run, nothing sent)"
	}
	rate := ""
	if s := r.Elapsed.Seconds(); s > 0 && !r.DryRun {
		rate = fmt.Sprintf(", %.0f links/s", float64(r.Created+r.Existing)/s)
	}
	fmt.Fprintf(w, "%s from %s: %d records read in %s%s\n", verb, from, r.Read, r.Elapsed.Round(time.Millisecond), rate)
	var counts [][]string
	if !r.DryRun {
		counts = append(counts, []string{"  created", fmt.Sprint(r.Created)}, []string{"  already imported", fmt.Sprint(r.Existing)})
	}
	counts = append(counts, []string{"  skipped (expired in the source)", fmt.Sprint(r.Skipped)},
		[]string{"  renamed", fmt.Sprint(len(r.Renamed))}, []string{"  failed", fmt.Sprint(len(r.Failed))})
	if err := rows(w, counts); err != nil {
		return err
	}
	if r.Existing > 0 && r.Created == 0 && !r.DryRun {
		fmt.Fprintf(w, "%d already imported: nothing new to create.\n", r.Existing)
	}
	if len(r.Renamed) > 0 {
		fmt.Fprintln(w, "\nRenamed (original code → new code):")
		var rs [][]string
		for _, n := range r.Renamed {
			rs = append(rs, []string{fmt.Sprintf("  line %d", n.Line), fmt.Sprintf("%s → %s", n.From, n.To), n.Why})
		}
		if err := rows(w, rs); err != nil {
			return err
		}
	}
	if len(r.Failed) > 0 {
		fmt.Fprintln(w, "\nNot imported:")
		var rs [][]string
		for _, f := range r.Failed {
			rs = append(rs, []string{fmt.Sprintf("  line %d", f.Line), f.Reason})
		}
		if err := rows(w, rs); err != nil {
			return err
		}
	}
	if r.Stopped != "" {
		fmt.Fprintf(w, "\nStopped early: %s\nRun the same command again to import the rest: what is already there is not created twice.\n", r.Stopped)
	}
	return nil
}
