package client

import (
	"context"
	"net/http"
)

// TagCount is a tag and how many of the workspace's live links have it.
type TagCount struct {
	Tag   string `json:"tag"`
	Links int64  `json:"links"`
}

// TagList is the answer of Tags: most used first, then by name.
type TagList struct {
	Tags []TagCount `json:"tags"`
}

// RenameTagRequest is the body of RenameTag.
type RenameTagRequest struct {
	Name string `json:"name"`
}

// TagChange says how many links a rename or delete of a tag changed.
type TagChange struct {
	Links int64 `json:"links"`
}

// Tags lists the workspace's tags with their link counts (GET
// /api/v1/tags).
func (c *Client) Tags(ctx context.Context) (*TagList, error) {
	var l TagList
	if err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/tags"}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// RenameTag renames tag to name on every link of the workspace (PATCH
// /api/v1/tags/{tag}).
func (c *Client) RenameTag(ctx context.Context, tag, name string) (*TagChange, error) {
	var ch TagChange
	r := request{method: http.MethodPatch, path: "/api/v1/tags/" + seg(tag), body: RenameTagRequest{Name: name}}
	if err := c.call(ctx, r, &ch); err != nil {
		return nil, err
	}
	return &ch, nil
}

// DeleteTag removes tag from every link of the workspace (DELETE
// /api/v1/tags/{tag}).
func (c *Client) DeleteTag(ctx context.Context, tag string) (*TagChange, error) {
	var ch TagChange
	if err := c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/tags/" + seg(tag)}, &ch); err != nil {
		return nil, err
	}
	return &ch, nil
}
