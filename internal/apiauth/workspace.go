package apiauth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/shortify/shortify/internal/workspace"
)

// WorkspaceHeader names the workspace a request acts in. An instance admin
// sends it to act in one workspace (by ID or by name); without it, it acts
// over every workspace (reads see them all, a create goes to the default
// workspace). A workspace's key may send it naming its own workspace only.
const WorkspaceHeader = "Shortify-Workspace"

// ErrNoWorkspace is wrapped by ActingWorkspace's error when the header
// names a workspace that does not exist or that the key may not act in:
// both are answered 404 alike, so that a key learns nothing of the
// workspaces it does not belong to.
var ErrNoWorkspace = errors.New("no such workspace")

// WorkspaceResolver finds a workspace's ID from the WorkspaceHeader value:
// a decimal ID or a name. ok is false when none has it.
type WorkspaceResolver func(ref string) (id int64, ok bool)

// ActingWorkspace returns the workspace rec acts in for r: its own for a
// workspace's key; for an instance admin, the one WorkspaceHeader names,
// or 0 (every workspace) without the header. An error wraps
// ErrNoWorkspace (answer 404). resolve may be nil when no workspace
// registry is available: then only a workspace key's own ID is accepted.
// A key of role viewer or creator without a workspace acts in the default
// workspace.
func ActingWorkspace(r *http.Request, rec KeyRecord, resolve WorkspaceResolver) (int64, error) {
	ref := strings.TrimSpace(r.Header.Get(WorkspaceHeader))
	if !rec.InstanceAdmin() {
		if rec.Workspace == 0 {
			// A viewer or creator key from before workspaces belongs to
			// the default one (as the control plane's key ring reads it).
			rec.Workspace = workspace.DefaultID
		}
		if ref == "" || ref == strconv.FormatInt(rec.Workspace, 10) {
			return rec.Workspace, nil
		}
		if resolve != nil {
			if id, ok := resolve(ref); ok && id == rec.Workspace {
				return id, nil
			}
		}
		return 0, fmt.Errorf("%w: %s %q (key %s acts in its own workspace only)", ErrNoWorkspace, WorkspaceHeader, ref, rec.ID)
	}
	if ref == "" {
		return 0, nil
	}
	if resolve != nil {
		if id, ok := resolve(ref); ok {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%w: %s %q names no workspace (give its ID or its name)", ErrNoWorkspace, WorkspaceHeader, ref)
}

// Resolver returns the WorkspaceResolver of a workspace registry: a
// decimal reference is an ID that exists (byID), anything else a name
// (byName). Without a registry (nil functions) only the default
// workspace is known, by its ID or its name.
func Resolver(byID func(id int64) bool, byName func(name string) (int64, bool)) WorkspaceResolver {
	return func(ref string) (int64, bool) {
		if byID == nil || byName == nil {
			if ref == strconv.FormatInt(workspace.DefaultID, 10) || ref == workspace.DefaultName {
				return workspace.DefaultID, true
			}
			return 0, false
		}
		if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
			return id, byID(id)
		}
		return byName(ref)
	}
}

// Sees tells whether rec, acting in workspace acting (ActingWorkspace's
// answer), may see what belongs to workspace ws (0 meaning the default
// workspace): an instance admin acting over every workspace sees
// everything, anyone else the workspace it acts in only. What it may not
// see is answered 404, as what does not exist.
func Sees(rec KeyRecord, acting, ws int64) bool {
	return acting == 0 && rec.InstanceAdmin() || acting == workspace.Of(ws)
}
