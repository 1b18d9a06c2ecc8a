package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/controlplane/seqfloor"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/secret"
	"github.com/shortify/shortify/internal/workspace"
)

// nodeKeys is the API's key ring on the Raft node's replicated state.
type nodeKeys struct{ node *cluster.Node }

// NodeKeys is the API's key ring on node's replicated state, for tools
// that run a node and an API handler without the Caddy app (bench/creates).
func NodeKeys(node *cluster.Node) api.Keys { return nodeKeys{node} }

func recordOf(e fsm.KeyEntry) api.KeyRecord {
	rec := api.KeyRecord{
		ID:        e.ID,
		Name:      e.Name,
		Role:      apikey.Role(e.Role),
		CreatedAt: time.UnixMilli(e.CreatedMs).UTC(),
		Revoked:   e.Revoked(),
		Workspace: e.Workspace,
	}
	copy(rec.Hash[:], e.Hash)
	return rec
}

// entryOf is the FSM's record of r. A viewer or creator key of the default
// workspace goes in the form from before workspaces (no workspace, which
// the FSM reads as the default one), so that older nodes still apply it
// during a rolling upgrade.
func entryOf(r api.KeyRecord) fsm.KeyEntry {
	e := fsm.KeyEntry{ID: r.ID, Name: r.Name, Role: string(r.Role), Hash: r.Hash[:], CreatedMs: r.CreatedAt.UnixMilli(), Workspace: r.Workspace}
	if r.Role != apikey.Admin && r.Workspace == workspace.DefaultID {
		e.Workspace = 0
	}
	return e
}

// LookupKey implements api.Keys.
func (k nodeKeys) LookupKey(id string) (api.KeyRecord, bool) {
	e, ok := k.node.APIKey(id)
	if !ok {
		return api.KeyRecord{}, false
	}
	return recordOf(e), true
}

// ListKeys implements api.Keys.
func (k nodeKeys) ListKeys() []api.KeyRecord {
	entries := k.node.APIKeys()
	out := make([]api.KeyRecord, 0, len(entries))
	for _, e := range entries {
		out = append(out, recordOf(e))
	}
	return out
}

// AddKey implements api.Keys.
func (k nodeKeys) AddKey(ctx context.Context, r api.KeyRecord) error {
	return k.node.AddAPIKey(ctx, entryOf(r), false)
}

// RevokeKey implements api.Keys.
func (k nodeKeys) RevokeKey(ctx context.Context, id string, at time.Time) (bool, error) {
	return k.node.RevokeAPIKey(ctx, id, at.UnixMilli())
}

// ledgerKeys records every revocation in the link database before it
// goes through Raft, so that a cluster restored from a backup taken before
// revokes the key again (package seqfloor). A revocation the database
// cannot record fails: a revocation that a restore could undo is not
// made.
type ledgerKeys struct {
	nodeKeys
	ledger *seqfloor.Ledger
}

// RevokeKey implements api.Keys.
func (k ledgerKeys) RevokeKey(ctx context.Context, id string, at time.Time) (bool, error) {
	if err := k.ledger.RecordRevocation(ctx, id, at.UnixMilli()); err != nil {
		return false, fmt.Errorf("revoke API key %s: %w: %w", id, api.ErrStoreUnavailable, err)
	}
	ok, err := k.nodeKeys.RevokeKey(ctx, id, at)
	if err == nil && !ok {
		// No such key: the record would only clutter the list (a restore
		// ignores IDs it does not hold, so a failure here is harmless). A
		// record left by a failed proposal stays: a restore revokes a key
		// an admin asked to revoke.
		_ = k.ledger.ForgetRevocation(ctx, id)
	}
	return ok, err
}

// WaitKeys returns the replicated key ring for the stats API of the same
// config. A request that arrives while the app starts waits for the
// start, up to DefaultStartWait or until ctx ends, as the API's own
// requests do; nil when the app did not start by then or is stopping.
func (a *App) WaitKeys(ctx context.Context) api.KeyLookup {
	h := a.waitHandler(ctx, DefaultStartWait)
	if h == nil {
		return nil
	}
	return h.KeyLookup()
}

// InitialKeyFile is the file in the data directory that receives a
// generated first admin key when standard error is not a terminal.
const InitialKeyFile = "initial-admin-key"

// keyOutput is where a generated first admin key goes.
type keyOutput struct {
	// dataDir receives InitialKeyFile.
	dataDir string
	// terminal is standard error; interactive reports whether it is a
	// terminal that a person reads (not a pod's or a service's log).
	terminal    io.Writer
	interactive func() bool
}

// stderrOutput is keyOutput for the process: standard error, shown only
// when it is a terminal.
func stderrOutput(dataDir string) keyOutput {
	return keyOutput{dataDir: dataDir, terminal: os.Stderr, interactive: func() bool { return term.IsTerminal(int(os.Stderr.Fd())) }}
}

// ensureAdminKey gives a cluster without keys its first admin key: the
// configured initial key (initial_api_key, already expanded and checked),
// or a new one, shown as out says. Several nodes may race here; the FSM
// stores only the first (AddKey with OnlyIfNone).
func ensureAdminKey(ctx context.Context, node *cluster.Node, initial string, out keyOutput, log *slog.Logger) error {
	if len(node.APIKeys()) > 0 {
		return nil
	}
	var key apikey.Key
	if initial != "" {
		id, err := apikey.Parse(initial)
		if err != nil {
			return fmt.Errorf("shortify: initial_api_key: %w (make one with `shortify new-api-key`)", err)
		}
		key = apikey.Key{ID: id, Secret: initial, Hash: apikey.Hash(initial)}
	} else {
		var err error
		if key, err = apikey.New(); err != nil {
			return err
		}
	}
	rec := api.KeyRecord{ID: key.ID, Name: "initial admin", Role: apikey.Admin, Hash: key.Hash, CreatedAt: time.Now()}
	err := node.AddAPIKey(ctx, entryOf(rec), true)
	switch {
	case errors.Is(err, fsm.ErrKeyExists):
		return nil // another node was first
	case err != nil:
		return fmt.Errorf("shortify: store the initial admin key: %w", err)
	}
	if initial != "" {
		log.Info("stored the configured initial admin API key", "id", key.ID)
		return nil
	}
	return showFirstKey(out, key, log)
}

// showFirstKey hands a generated first admin key to the operator, never
// to a log (logs are kept and shipped): on an interactive terminal it is
// printed; otherwise (a container, a service manager) it is written to a
// file only the node's user can read, and the file's path is logged.
func showFirstKey(out keyOutput, key apikey.Key, log *slog.Logger) error {
	if out.interactive != nil && out.interactive() {
		fmt.Fprintf(out.terminal, "\n"+
			"  Shortify created the first admin API key. It is shown only now; store it safely:\n\n"+
			"      %s\n\n"+
			"  Send it as \"Authorization: Bearer <key>\". Set SHORTIFY_INITIAL_API_KEY to choose it yourself.\n\n", key.Secret)
		log.Warn("created the first admin API key and printed it on the terminal", "id", key.ID)
		return nil
	}
	path := filepath.Join(out.dataDir, InitialKeyFile)
	if err := writeKeyFile(path, key.Secret); err != nil {
		return fmt.Errorf("shortify: the first admin API key %s was created but could not be written to %s (standard error is not a terminal, so it is not printed): %w; revoke it from a node that has the key, or start a new cluster with SHORTIFY_INITIAL_API_KEY set", key.ID, path, err)
	}
	log.Warn("created the first admin API key and wrote it to a file that only this user can read; move it somewhere safe and delete the file",
		"id", key.ID, "file", path)
	return nil
}

// writeKeyFile writes key to path with mode 0600, replacing a file left by
// an earlier cluster in the same directory.
func writeKeyFile(path, key string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// An existing file keeps its mode through OpenFile: make sure.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// minInitialKeyBits is the least estimated entropy of a configured initial
// key: a key from `shortify new-api-key` has far more; a hand-made
// well-formed one such as sk_AAAAAAAAAAAA_BBBB… has far less.
const minInitialKeyBits = 128

// checkInitialKey refuses a configured initial admin key that is still a
// placeholder, is not a well-formed key, or was made by hand. Empty means
// none is configured.
func checkInitialKey(v string) error {
	if v == "" {
		return nil
	}
	if _, err := apikey.Parse(v); err != nil {
		// secret.Check says it best when v is an unexpanded placeholder.
		if strings.Contains(v, "{") {
			if cerr := secret.Check("initial_api_key", v); cerr != nil {
				return fmt.Errorf("shortify: %w", cerr)
			}
		}
		return fmt.Errorf("shortify: initial_api_key: %w (make one with `shortify new-api-key`)", err)
	}
	// secret.Check's list of shipped-default words is not applied to a
	// well-formed key: its random Base62 part contains "todo" or the like
	// now and then.
	if bits := secret.EntropyBits(v); bits < minInitialKeyBits {
		return fmt.Errorf("shortify: initial_api_key: %w: the key is too easy to guess (about %.0f bits); make one with `shortify new-api-key`", secret.ErrWeak, bits)
	}
	return nil
}
