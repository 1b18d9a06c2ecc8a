package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/shortify/shortify/internal/backupfile"
)

func init() {
	Register(Spec{
		Name:  "backup",
		Usage: "[--out FILE] | verify FILE",
		Short: "Writes a backup of the control plane's Raft state",
		Long: `Writes a consistent backup of the control plane's Raft state, taken by the
leader: the code key, the sequence, the worker-ID leases, the API keys
(hashes), the workspaces, the custom domains, the blocklist and the
partition policy. It needs an instance admin's key. The file holds the
code key: keep it like a secret (--out writes it with mode 0600).

A new cluster starts from the file with the restore_from option on the
node that bootstraps it (docs/operations.md, "Backup and restore"); the
links themselves are in the link database, backed up with pg_dump.

"shortify backup verify FILE" checks a file offline (format, length,
SHA-256) and prints its header.`,
		Build: buildBackup,
	})
}

func buildBackup(cmd *cobra.Command, e *Env) {
	var out string
	cmd.Example = `  shortify backup --out raft-$(date -u +%Y%m%dT%H%M%SZ).backup
  shortify backup verify raft-20261205T090000Z.backup`
	cmd.Args = e.args()
	cmd.Flags().StringVar(&out, "out", "", "write to this file, mode 0600 (default: standard output)")
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		if out == "" && e.Interactive {
			return Usage("the backup holds the cluster's code key: give --out FILE rather than print it on a terminal")
		}
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		file, err := c.Backup(ctx)
		if err != nil {
			return err
		}
		h, _, err := backupfile.Read(bytes.NewReader(file))
		if err != nil {
			return fmt.Errorf("the server sent a bad backup: %w", err)
		}
		w, commit, abort, err := e.output(out)
		if err != nil {
			return err
		}
		defer abort()
		if _, err := w.Write(file); err != nil {
			return fmt.Errorf("write the backup: %w", err)
		}
		if err := commit(); err != nil {
			return err
		}
		if out != "" {
			if e.Options(cmd).JSON {
				return writeJSON(e.Stdout, h)
			}
			fmt.Fprintf(e.Stderr, "wrote a backup of Raft index %d (taken %s by %s, %d bytes, sha256 %s) to %s; it holds the code key: keep it secret\n",
				h.Index, h.TakenAt.Format("2006-01-02T15:04:05Z07:00"), h.NodeID, h.Size, h.SHA256, out)
		}
		return nil
	})
	cmd.AddCommand(backupVerify(e))
}

func backupVerify(e *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "verify FILE", Short: "Checks a backup file offline and prints its header", Args: e.args("FILE")}
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		h, _, err := backupfile.Read(f)
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		if e.Options(cmd).JSON {
			return writeJSON(e.Stdout, h)
		}
		t := NewTable(e.Stdout, "FIELD", "VALUE")
		t.Row("format", fmt.Sprintf("%s %d", h.Format, h.Version))
		t.Row("taken_at", h.TakenAt.Format("2006-01-02T15:04:05Z07:00"))
		t.Row("node", h.NodeID)
		t.Row("raft_index", fmt.Sprint(h.Index))
		t.Row("raft_term", fmt.Sprint(h.Term))
		t.Row("snapshot_version", fmt.Sprint(h.SnapshotVersion))
		t.Row("bytes", fmt.Sprint(h.Size))
		t.Row("sha256", h.SHA256)
		return t.Flush()
	})
	return cmd
}
