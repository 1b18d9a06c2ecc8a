package client

import (
	"context"
	"net/http"
	"net/url"
)

// CreateWorkspace creates a workspace (POST /api/v1/workspaces; instance
// admins).
func (c *Client) CreateWorkspace(ctx context.Context, req CreateWorkspaceRequest) (*Workspace, error) {
	return send[Workspace](ctx, c, http.MethodPost, "/api/v1/workspaces", nil, req)
}

// ListWorkspaces lists the workspaces the key sees (GET
// /api/v1/workspaces).
func (c *Client) ListWorkspaces(ctx context.Context) ([]Workspace, error) {
	r, err := get[WorkspaceList](ctx, c, "/api/v1/workspaces", nil)
	if err != nil {
		return nil, err
	}
	return r.Workspaces, nil
}

// GetWorkspace returns a workspace by ID or name (GET
// /api/v1/workspaces/{id}).
func (c *Client) GetWorkspace(ctx context.Context, ref string) (*Workspace, error) {
	return get[Workspace](ctx, c, "/api/v1/workspaces/"+seg(ref), nil)
}

// UpdateWorkspace renames a workspace or changes its limits (PATCH
// /api/v1/workspaces/{id}).
func (c *Client) UpdateWorkspace(ctx context.Context, ref string, req UpdateWorkspaceRequest) (*Workspace, error) {
	return send[Workspace](ctx, c, http.MethodPatch, "/api/v1/workspaces/"+seg(ref), nil, req)
}

// DeleteWorkspace deletes a workspace (DELETE /api/v1/workspaces/{id});
// deleteLinks deletes its links with it (the server refuses to delete a
// workspace that has links otherwise).
func (c *Client) DeleteWorkspace(ctx context.Context, ref string, deleteLinks bool) error {
	var q url.Values
	if deleteLinks {
		q = url.Values{"delete_links": {"true"}}
	}
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/workspaces/" + seg(ref), query: q}, nil)
}

// CreateDomain adds a custom domain to the workspace (POST
// /api/v1/domains); its Challenge says which DNS record proves it.
func (c *Client) CreateDomain(ctx context.Context, domain string) (*Domain, error) {
	return send[Domain](ctx, c, http.MethodPost, "/api/v1/domains", nil, CreateDomainRequest{Domain: domain})
}

// ListDomains lists the workspace's domains (GET /api/v1/domains).
func (c *Client) ListDomains(ctx context.Context) ([]Domain, error) {
	r, err := get[DomainList](ctx, c, "/api/v1/domains", nil)
	if err != nil {
		return nil, err
	}
	return r.Domains, nil
}

// GetDomain returns a domain (GET /api/v1/domains/{domain}).
func (c *Client) GetDomain(ctx context.Context, domain string) (*Domain, error) {
	return get[Domain](ctx, c, "/api/v1/domains/"+seg(domain), nil)
}

// UpdateDomain changes a domain's redirects (PATCH
// /api/v1/domains/{domain}).
func (c *Client) UpdateDomain(ctx context.Context, domain string, req UpdateDomainRequest) (*Domain, error) {
	return send[Domain](ctx, c, http.MethodPatch, "/api/v1/domains/"+seg(domain), nil, req)
}

// DeleteDomain removes a domain (DELETE /api/v1/domains/{domain});
// deleteLinks deletes its links with it.
func (c *Client) DeleteDomain(ctx context.Context, domain string, deleteLinks bool) error {
	var q url.Values
	if deleteLinks {
		q = url.Values{"delete_links": {"true"}}
	}
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/domains/" + seg(domain), query: q}, nil)
}

// VerifyDomain checks the domain's DNS challenge now (POST
// /api/v1/domains/{domain}/verify).
func (c *Client) VerifyDomain(ctx context.Context, domain string) (*Domain, error) {
	return send[Domain](ctx, c, http.MethodPost, "/api/v1/domains/"+seg(domain)+"/verify", nil, nil)
}
