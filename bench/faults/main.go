// Command faults runs Shortify's fault suite (issue 18) and prints its
// table: every test named TestFault* in the module, including the long ones
// behind the build tag `faults`, one package at a time so that one fault's
// load does not colour another's figure. Each test asserts its own bounds
// and records its figure with internal/testkit/faults; this command joins
// the figures with the tests' results and ends with the line
//
//	faults: N passed, M failed
//
// A test that passes without recording a figure, or that skips, counts as
// failed: a fault without its figure is not done. `make faults` runs it;
// -markdown prints the table as docs/faults.md keeps it. Flags: go run
// ./bench/faults -h.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/testkit/faults"
)

func main() {
	run := flag.String("run", "^TestFault", "the tests to run (go test -run)")
	pkgs := flag.String("pkgs", "./...", "the packages to search for fault tests (space-separated)")
	timeout := flag.Duration("timeout", 90*time.Minute, "go test -timeout")
	markdown := flag.Bool("markdown", false, "print the table as Markdown (docs/faults.md)")
	verbose := flag.Bool("v", false, "stream the tests' output")
	flag.Parse()
	if err := suite(*run, strings.Fields(*pkgs), *timeout, *markdown, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

// result is one fault test's outcome and figures.
type result struct {
	pkg, test string
	action    string // pass, fail, skip, or "" when it never ended
	rows      []faults.Row
}

func suite(run string, pkgs []string, timeout time.Duration, markdown, verbose bool) error {
	dir, err := os.MkdirTemp("", "shortify-faults-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	report := filepath.Join(dir, "report.jsonl")

	args := append([]string{"test", "-json", "-tags", "faults", "-count=1", "-p", "1",
		"-timeout", timeout.String(), "-run", run}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), faults.ReportEnv+"="+report)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start go test: %w", err)
	}
	results, perr := parse(out, verbose)
	werr := cmd.Wait()
	if perr != nil {
		return perr
	}
	if err := attach(results, report); err != nil {
		return err
	}
	passed, failed := print(os.Stdout, results, markdown)
	fmt.Printf("(%s, load average %s)\n", time.Since(start).Round(time.Second), loadavg())
	fmt.Printf("faults: %d passed, %d failed\n", passed, failed)
	var exit *exec.ExitError
	if werr != nil && !errors.As(werr, &exit) {
		return fmt.Errorf("go test: %w", werr)
	}
	if failed > 0 || len(results) == 0 {
		os.Exit(1)
	}
	return nil
}

// event is a line of go test -json (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

var faultTest = regexp.MustCompile(`^TestFault[^/]*$`)

// parse reads go test -json and keeps the top-level fault tests' outcomes;
// it echoes their failures' output (all output with verbose).
func parse(r io.Reader, verbose bool) (map[string]*result, error) {
	results := map[string]*result{}
	logs := map[string]*bytes.Buffer{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // build errors come through as plain lines
			continue
		}
		top, _, _ := strings.Cut(e.Test, "/")
		if !faultTest.MatchString(top) {
			if e.Test == "" && e.Action == "output" && (verbose || strings.HasPrefix(e.Output, "FAIL") || strings.Contains(e.Output, "build failed")) {
				fmt.Print(e.Output)
			}
			continue
		}
		key := e.Package + "." + top
		res := results[key]
		if res == nil {
			res = &result{pkg: e.Package, test: top}
			results[key] = res
			logs[key] = &bytes.Buffer{}
		}
		switch e.Action {
		case "output":
			logs[key].WriteString(e.Output)
			if verbose {
				fmt.Print(e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == top {
				res.action = e.Action
				if e.Action != "pass" && !verbose {
					fmt.Print(logs[key].String())
				}
				fmt.Fprintf(os.Stderr, "  %s %s (%s)\n", e.Action, top, e.Package)
			}
		}
	}
	return results, sc.Err()
}

// attach joins the recorded rows to their tests.
func attach(results map[string]*result, report string) error {
	data, err := os.ReadFile(report)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var row faults.Row
		if err := json.Unmarshal(line, &row); err != nil {
			return fmt.Errorf("report line %q: %w", line, err)
		}
		top, _, _ := strings.Cut(row.Test, "/")
		for _, res := range results {
			if res.test == top {
				res.rows = append(res.rows, row)
			}
		}
	}
	return nil
}

// print writes the table and counts the outcomes.
func print(w io.Writer, results map[string]*result, markdown bool) (passed, failed int) {
	keys := make([]string, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return results[keys[i]].test < results[keys[j]].test })
	if markdown {
		fmt.Fprintln(w, "| Test | Fault | Expected | Measured | Result |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
	}
	for _, k := range keys {
		res := results[k]
		verdict := res.action
		switch {
		case res.action == "pass" && len(res.rows) == 0:
			verdict = "fail (no figure recorded)"
		case res.action == "":
			verdict = "fail (did not finish)"
		case res.action == "skip":
			verdict = "fail (skipped)"
		}
		if verdict == "pass" {
			passed++
		} else {
			failed++
		}
		rows := res.rows
		if len(rows) == 0 {
			rows = []faults.Row{{Test: res.test}}
		}
		for _, row := range rows {
			if markdown {
				fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s |\n", row.Test, cell(row.Fault), cell(row.Expected), cell(row.Measured), verdict)
				continue
			}
			fmt.Fprintf(w, "%s %s\n       fault:    %s\n       expected: %s\n       measured: %s\n",
				strings.ToUpper(verdict), row.Test, row.Fault, row.Expected, row.Measured)
		}
	}
	return passed, failed
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
