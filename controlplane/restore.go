package controlplane

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/controlplane/seqfloor"
	"github.com/shortify/shortify/internal/backupfile"
	"github.com/shortify/shortify/internal/codegen"
)

// restoreFrom is the node's restore of restore_from (nil without one):
// before the backup is restored, its sequence and its worker IDs'
// timestamps move past what the link database holds, which may be newer
// than the backup (restored from a later dump), and the keys revoked since
// are revoked again. The link store and the ledger are open and migrated
// by then (openService opens them before the node).
func restoreFrom(cfg serviceConfig, ledger *seqfloor.Ledger, log *slog.Logger) *cluster.Restore {
	if cfg.RestoreFrom == "" {
		return nil
	}
	return &cluster.Restore{
		Path: cfg.RestoreFrom,
		Floor: func(ctx context.Context, h backupfile.Header, st *fsm.State) error {
			codec, err := codegen.New(st.Key)
			if err != nil {
				return fmt.Errorf("the backup's code key: %w", err)
			}
			f, err := ledger.Measure(ctx, codec, st.NextSequence, h.TakenAt)
			if err != nil {
				return fmt.Errorf("measure the link database: %w", err)
			}
			revoked, err := ledger.Revocations(ctx)
			if err != nil {
				return err
			}
			before := st.NextSequence
			st.RaiseFloors(f.Seq, f.IDMs)
			again := st.Revoke(revoked)
			if f.Marked {
				log.Info("moved the restored sequence past the link database's mark",
					"backup_taken_at", h.TakenAt, "backup_next_sequence", before, "sequence_mark", f.Mark,
					"next_sequence", st.NextSequence, "largest_id_ms", f.IDMs)
			} else {
				log.Warn("the link database has no sequence mark (written by a release before it): moved the restored sequence past the codes scanned",
					"backup_taken_at", h.TakenAt, "backup_next_sequence", before, "next_sequence", st.NextSequence,
					"links_scanned", f.Scanned, "codes_past_backup", f.Decoded, "codes_kept", f.Kept,
					"largest_id_ms", f.IDMs)
			}
			log.Info("revoked the keys revoked since the backup", "revocations_recorded", len(revoked), "keys_revoked_again", again)
			return nil
		},
	}
}
