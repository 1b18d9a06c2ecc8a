package api

import (
	"net/http"

	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/workspace"
)

// WorkspaceView answers GET /api/v1/stats/workspace: whose statistics the
// other routes answer with for this key (and Shortify-Workspace header),
// so that the dashboard can say it.
type WorkspaceView struct {
	// Key is the ID of the key that asked.
	Key string `json:"key"`
	// Role is the key's role.
	Role string `json:"role"`
	// InstanceAdmin: the key is an instance admin's, which may read every
	// workspace's statistics.
	InstanceAdmin bool `json:"instance_admin"`
	// Workspace is the workspace the statistics are of; absent for an
	// instance admin without the header: every workspace (the
	// instance-wide roll-up).
	Workspace *Workspace `json:"workspace,omitempty"`
	// Workspaces are the workspaces an instance admin may pick, by
	// ascending ID; absent for a workspace's key.
	Workspaces []Workspace `json:"workspaces,omitempty"`
}

// workspace answers GET /api/v1/stats/workspace.
func (h *Handler) workspace(w http.ResponseWriter, r *http.Request) {
	if _, ok := apiquery.Params(w, r, nil); !ok {
		return
	}
	sc := scopeOf(r)
	out := WorkspaceView{Key: sc.key.ID, Role: string(sc.key.Role), InstanceAdmin: sc.key.InstanceAdmin()}
	if sc.ws != 0 {
		ws := Workspace{ID: sc.ws}
		if sc.dir != nil {
			if found, ok := sc.dir.Workspace(sc.ws); ok {
				ws.Name = found.Name
			}
		} else if sc.ws == workspace.DefaultID {
			ws.Name = workspace.DefaultName
		}
		out.Workspace = &ws
	}
	if out.InstanceAdmin {
		out.Workspaces = []Workspace{}
		if sc.dir != nil {
			out.Workspaces = append(out.Workspaces, sc.dir.Workspaces()...)
		} else {
			out.Workspaces = append(out.Workspaces, Workspace{ID: workspace.DefaultID, Name: workspace.DefaultName})
		}
	}
	writeJSON(w, out)
}
