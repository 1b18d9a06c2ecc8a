package fsm

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/shortify/shortify/internal/workspace"
)

// Workspaces: the tenants that own links, domains, keys and statistics
// (docs/decisions/0003-workspaces.md).
//
// They live in the FSM because every node must agree at once on who owns
// a key or a domain, and the records are few and small. The links of a
// workspace live in the link store: the FSM cannot see them, so deleting a
// workspace that still has links is the proposer's check.
//
// The default workspace (workspace.DefaultID, workspace.DefaultName)
// exists in every state: a new FSM, a restored snapshot of any version.
// It can be given limits but never renamed or deleted.

// Bounds of workspace records.
const (
	// MaxWorkspaceNameLen bounds workspace names, in bytes.
	MaxWorkspaceNameLen = 63
	// MaxWorkspaces bounds the registry: it is replicated and snapshotted
	// whole.
	MaxWorkspaces = 10_000
)

// Business errors of the workspace commands.
var (
	// ErrWorkspaceExists answers CreateWorkspace and UpdateWorkspace with
	// a name another workspace has.
	ErrWorkspaceExists = errors.New("workspace name taken")
	// ErrUnknownWorkspace answers a command naming a workspace ID the
	// registry does not hold.
	ErrUnknownWorkspace = errors.New("no such workspace")
	// ErrWorkspaceNotEmpty answers DeleteWorkspace while the workspace
	// holds domains or unrevoked API keys.
	ErrWorkspaceNotEmpty = errors.New("workspace not empty")
)

// WorkspaceLimits are a workspace's quotas. Zero means the default the
// nodes are configured with, which the FSM does not know: the API applies
// the limits.
type WorkspaceLimits struct {
	// MaxLinks bounds the workspace's links.
	MaxLinks int64 `json:"max_links,omitempty"`
	// CreatesPerMinute bounds its link creations per minute.
	CreatesPerMinute int64 `json:"creates_per_minute,omitempty"`
	// MaxDomains bounds its custom domains.
	MaxDomains int64 `json:"max_domains,omitempty"`
}

func (l WorkspaceLimits) check() error {
	if l.MaxLinks < 0 || l.CreatesPerMinute < 0 || l.MaxDomains < 0 {
		return fmt.Errorf("%w: negative workspace limit %+v", ErrInvalidCommand, l)
	}
	return nil
}

// Workspace is one workspace's record.
type Workspace struct {
	// ID is assigned by the FSM from a counter, never reused.
	ID int64 `json:"id"`
	// Name is unique (see CheckWorkspaceName).
	Name string `json:"name"`
	// CreatedMs is the proposer's time of creation, Unix milliseconds;
	// 0 for the default workspace, which predates every record.
	CreatedMs int64 `json:"created_ms,omitempty"`
	// Limits are the workspace's quotas.
	Limits WorkspaceLimits `json:"limits"`
}

// defaultWorkspace is the record the default workspace starts with.
func defaultWorkspace() Workspace {
	return Workspace{ID: workspace.DefaultID, Name: workspace.DefaultName}
}

// CheckWorkspaceName reports what makes name unacceptable as a workspace
// name: it must be 1..MaxWorkspaceNameLen lower-case ASCII letters, digits
// and hyphens, not beginning or ending with a hyphen (a DNS label, so that
// a name may one day name a subdomain). The API reuses it to answer 400
// before proposing.
func CheckWorkspaceName(name string) error {
	if name == "" || len(name) > MaxWorkspaceNameLen {
		return fmt.Errorf("%w: workspace name of %d bytes, want 1..%d", ErrInvalidCommand, len(name), MaxWorkspaceNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: workspace name %q has %q; use lower-case letters, digits and hyphens", ErrInvalidCommand, name, c)
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return fmt.Errorf("%w: workspace name %q begins or ends with a hyphen", ErrInvalidCommand, name)
	}
	return nil
}

func (w Workspace) check() error {
	if w.ID <= 0 {
		return fmt.Errorf("%w: workspace ID %d", ErrInvalidCommand, w.ID)
	}
	if err := CheckWorkspaceName(w.Name); err != nil {
		return err
	}
	if w.ID == workspace.DefaultID && w.Name != workspace.DefaultName {
		return fmt.Errorf("%w: workspace %d is named %q, want %q", ErrInvalidCommand, w.ID, w.Name, workspace.DefaultName)
	}
	return w.Limits.check()
}

// CreateWorkspace creates a workspace; the FSM gives it the next ID.
// Added in CommandVersion 2. Response: *WorkspaceResult.
type CreateWorkspace struct {
	// Name is the new workspace's name (CheckWorkspaceName), unique.
	Name string `json:"name"`
	// Limits are its quotas.
	Limits WorkspaceLimits `json:"limits"`
	// AtMs is the proposer's clock, Unix milliseconds.
	AtMs int64 `json:"at_ms"`
}

// UpdateWorkspace renames a workspace, sets its limits, or both. The
// default workspace keeps its name. Added in CommandVersion 2.
// Response: *WorkspaceResult.
type UpdateWorkspace struct {
	// ID is the workspace.
	ID int64 `json:"id"`
	// Name is the new name; empty keeps the name.
	Name string `json:"name,omitempty"`
	// Limits replace the limits; nil keeps them.
	Limits *WorkspaceLimits `json:"limits,omitempty"`
}

// DeleteWorkspace deletes a workspace that holds no domains and no
// unrevoked API keys (ErrWorkspaceNotEmpty otherwise; its links, in the
// link store, are the proposer's to check). The default workspace is
// never deleted. Its ID is not given again. Added in CommandVersion 2.
// Response: *WorkspaceResult.
type DeleteWorkspace struct {
	// ID is the workspace.
	ID int64 `json:"id"`
}

// Type implements Command.
func (CreateWorkspace) Type() CommandType { return TypeCreateWorkspace }

// Type implements Command.
func (UpdateWorkspace) Type() CommandType { return TypeUpdateWorkspace }

// Type implements Command.
func (DeleteWorkspace) Type() CommandType { return TypeDeleteWorkspace }

// WorkspaceResult answers the workspace commands.
type WorkspaceResult struct {
	// Workspace is the record after the command (before it, for
	// DeleteWorkspace); zero on error.
	Workspace Workspace `json:"workspace"`
	// Err is nil, ErrInvalidCommand, ErrWorkspaceExists,
	// ErrUnknownWorkspace or ErrWorkspaceNotEmpty.
	Err error `json:"-"`
}

func (r *WorkspaceResult) businessErr() error     { return r.Err }
func (r *WorkspaceResult) setBusinessErr(e error) { r.Err = e }

// workspaceNamed returns the ID of the workspace with the name, 0 if none.
func (s *state) workspaceNamed(name string) int64 {
	for id, w := range s.workspaces {
		if w.Name == name {
			return id
		}
	}
	return 0
}

func (s *state) createWorkspace(c *CreateWorkspace) any {
	if err := CheckWorkspaceName(c.Name); err != nil {
		return &WorkspaceResult{Err: err}
	}
	if err := c.Limits.check(); err != nil {
		return &WorkspaceResult{Err: err}
	}
	if s.workspaceNamed(c.Name) != 0 {
		return &WorkspaceResult{Err: fmt.Errorf("%w: %s", ErrWorkspaceExists, c.Name)}
	}
	if len(s.workspaces) >= MaxWorkspaces {
		return &WorkspaceResult{Err: fmt.Errorf("%w: %d workspaces exist already", ErrInvalidCommand, MaxWorkspaces)}
	}
	s.lastWorkspace++
	w := Workspace{ID: s.lastWorkspace, Name: c.Name, CreatedMs: c.AtMs, Limits: c.Limits}
	s.workspaces[w.ID] = w
	return &WorkspaceResult{Workspace: w}
}

func (s *state) updateWorkspace(c *UpdateWorkspace) any {
	w, ok := s.workspaces[c.ID]
	if !ok {
		return &WorkspaceResult{Err: fmt.Errorf("%w: %d", ErrUnknownWorkspace, c.ID)}
	}
	if c.Name != "" && c.Name != w.Name {
		if err := CheckWorkspaceName(c.Name); err != nil {
			return &WorkspaceResult{Err: err}
		}
		if c.ID == workspace.DefaultID {
			return &WorkspaceResult{Err: fmt.Errorf("%w: the default workspace keeps its name", ErrInvalidCommand)}
		}
		if s.workspaceNamed(c.Name) != 0 {
			return &WorkspaceResult{Err: fmt.Errorf("%w: %s", ErrWorkspaceExists, c.Name)}
		}
		w.Name = c.Name
	}
	if c.Limits != nil {
		if err := c.Limits.check(); err != nil {
			return &WorkspaceResult{Err: err}
		}
		w.Limits = *c.Limits
	}
	s.workspaces[c.ID] = w
	return &WorkspaceResult{Workspace: w}
}

func (s *state) deleteWorkspace(c *DeleteWorkspace) any {
	w, ok := s.workspaces[c.ID]
	if !ok {
		return &WorkspaceResult{Err: fmt.Errorf("%w: %d", ErrUnknownWorkspace, c.ID)}
	}
	if c.ID == workspace.DefaultID {
		return &WorkspaceResult{Err: fmt.Errorf("%w: the default workspace is never deleted", ErrInvalidCommand)}
	}
	if n := len(s.domainsOf(c.ID)); n > 0 {
		return &WorkspaceResult{Err: fmt.Errorf("%w: workspace %s holds %d domains", ErrWorkspaceNotEmpty, w.Name, n)}
	}
	// Counted, not named: map order must not reach a response.
	live := 0
	for _, k := range s.keys {
		if k.Workspace == c.ID && !k.Revoked() {
			live++
		}
	}
	if live > 0 {
		return &WorkspaceResult{Err: fmt.Errorf("%w: workspace %s holds %d unrevoked API keys", ErrWorkspaceNotEmpty, w.Name, live)}
	}
	delete(s.workspaces, c.ID)
	return &WorkspaceResult{Workspace: w}
}

// sortedWorkspaces returns the registry by ascending ID.
func (s *state) sortedWorkspaces() []Workspace {
	out := make([]Workspace, 0, len(s.workspaces))
	for _, w := range s.workspaces {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b Workspace) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Workspace returns the record of the workspace with the ID.
func (f *FSM) Workspace(id int64) (Workspace, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	w, ok := f.s.workspaces[id]
	return w, ok
}

// WorkspaceByName returns the record of the workspace with the name.
func (f *FSM) WorkspaceByName(name string) (Workspace, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	w, ok := f.s.workspaces[f.s.workspaceNamed(name)]
	return w, ok
}

// Workspaces returns every workspace, by ascending ID.
func (f *FSM) Workspaces() []Workspace {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.sortedWorkspaces()
}
