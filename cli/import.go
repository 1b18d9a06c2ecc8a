package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortify/shortify/cli/imports"
)

func init() {
	Register(Spec{
		Name:  "import",
		Usage: "--from csv|bitly|yourls|kutt|shlink FILE",
		Short: "Imports links from a CSV file or another shortener's export",
		Long: `Creates the links of FILE ("-" for stdin) through the bulk API, keeping each
original code as the alias when it is free and valid; the others get a
generated code and are listed at the end (original → new). Formats:
  csv     url,alias,title,tags,expires_at,domain (header required; tags
          separated by |; what "shortify export --format csv" writes)
  bitly   the API's bitlinks JSON (one page or several, concatenated) or the
          web app's CSV export
  yourls  a SQL dump of the yourls_url table, or its CSV export
  kutt    the API's /api/v2/links JSON, or a CSV with those field names
  shlink  the API's short-urls JSON, or the web client's CSV export
Every link carries external_id "<format>:<domain>/<code>" (or
"<format>:<url>" without a code), so running the command again creates
nothing new ("N already imported") and a run stopped halfway completes the
rest. See docs/import.md.`,
		Build: buildImport,
	})
}

func buildImport(cmd *cobra.Command, e *Env) {
	f := cmd.Flags()
	f.String("from", "", "the file's format: "+strings.Join(formatNames(), ", ")+" (required)")
	f.String("domain", "", "create every link on this custom domain of the workspace")
	f.StringArray("tag", nil, "add this tag to every link (repeatable)")
	f.Bool("dry-run", false, "read and check the file, send nothing")
	f.String("on-error", "skip", "a bad record: skip (report it and go on) or stop")
	f.String("source-domain", "", "the old shortener's domain, for exports that do not name it (YOURLS): part of each link's external_id")
	f.Int("batch", MaxImportBatch, "links per bulk request (at most 1000)")
	f.Int("parallel", 3, "bulk requests in flight")
	f.Bool("quiet", false, "no progress bar or progress lines")
	cmd.Args = e.args("FILE")
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		return e.runImportCmd(ctx, cmd, args[0])
	})
}

func formatNames() []string {
	var names []string
	for _, f := range imports.Formats {
		names = append(names, string(f))
	}
	return names
}

func (e *Env) runImportCmd(ctx context.Context, cmd *cobra.Command, path string) error {
	fl := cmd.Flags()
	from, _ := fl.GetString("from")
	if from == "" {
		return Usage("import needs --from (" + strings.Join(formatNames(), ", ") + ")")
	}
	format, err := imports.ParseFormat(from)
	if err != nil {
		return Usage("--from: " + err.Error())
	}
	cfg := importConfig{Format: format, Now: e.now}
	cfg.Domain, _ = fl.GetString("domain")
	cfg.Tags, _ = fl.GetStringArray("tag")
	cfg.DryRun, _ = fl.GetBool("dry-run")
	cfg.Batch, _ = fl.GetInt("batch")
	cfg.Parallel, _ = fl.GetInt("parallel")
	quiet, _ := fl.GetBool("quiet")
	sourceDomain, _ := fl.GetString("source-domain")
	switch onErr, _ := fl.GetString("on-error"); onErr {
	case "skip":
	case "stop":
		cfg.StopOnBad = true
	default:
		return Usagef("--on-error is skip or stop, not %q", onErr)
	}
	if cfg.Batch < 1 || cfg.Batch > MaxImportBatch {
		return Usagef("--batch is 1 to %d, not %d", MaxImportBatch, cfg.Batch)
	}
	if cfg.Parallel < 1 || cfg.Parallel > 16 {
		return Usagef("--parallel is 1 to 16, not %d", cfg.Parallel)
	}
	var api bulkCreator
	if !cfg.DryRun {
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		api = c
	}

	in, size, closeIn, err := e.openImportFile(path)
	if err != nil {
		return err
	}
	defer closeIn()
	file := &byteCounter{r: in}
	src, err := imports.Open(format, file, imports.Options{SourceDomain: sourceDomain})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var progress func(*importer)
	var view *importProgress
	if !quiet {
		view = newImportProgress(e.Stderr, size, file, time.Now)
		progress = view.update
	}
	rep, runErr := runImport(ctx, api, src, cfg, progress)
	if view != nil {
		view.finish(rep)
	}
	if e.Options(cmd).JSON {
		if err := writeJSON(e.Stdout, rep); err != nil {
			return err
		}
	} else if err := printImportReport(e.Stdout, fmt.Sprintf("%s (%s)", path, format), rep); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if n := len(rep.Failed); n > 0 {
		return fmt.Errorf("%d of %d records were not imported (listed above); fix them and run the same command again", n, rep.Read)
	}
	return nil
}

// openImportFile opens path ("-": stdin) and says its size when known.
func (e *Env) openImportFile(path string) (io.Reader, int64, func(), error) {
	if path == "-" {
		return e.Stdin, 0, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("open the file to import: %w", err)
	}
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, func() { f.Close() }, nil
}
