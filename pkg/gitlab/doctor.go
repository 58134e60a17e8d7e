package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// This file holds the reads `sdesk doctor` makes to check a setup: the
// token's user and scopes, the user's access to the project, and the
// project's webhooks.

// Access levels (https://docs.gitlab.com/api/members/#roles).
const (
	AccessGuest      = 10
	AccessPlanner    = 15
	AccessReporter   = 20
	AccessDeveloper  = 30
	AccessMaintainer = 40
	AccessOwner      = 50
)

// AccessLevelName names an access level as GitLab's members page does,
// with its number: "Reporter (20)"; "no access (0)" for 0.
func AccessLevelName(level int) string {
	names := map[int]string{0: "no access", 5: "Minimal Access", AccessGuest: "Guest", AccessPlanner: "Planner",
		AccessReporter: "Reporter", AccessDeveloper: "Developer", AccessMaintainer: "Maintainer", AccessOwner: "Owner"}
	name, ok := names[level]
	if !ok {
		name = "access level"
	}
	return name + " (" + strconv.Itoa(level) + ")"
}

// StatusCode returns the HTTP status of GitLab's answer in err's chain
// (client-go's 404 is a bare gl.ErrNotFound: 404 too), or 0 when there is
// none (a network error, a timeout).
func StatusCode(err error) int {
	var er *gl.ErrorResponse
	switch {
	case errors.As(err, &er) && er.Response != nil:
		return er.Response.StatusCode
	case errors.Is(err, gl.ErrNotFound):
		return 404
	}
	return 0
}

// TokenUser is the user a token acts as.
type TokenUser struct {
	ID       int
	Username string
	Admin    bool // an instance administrator: access to every project
	Bot      bool // a project or group access token's bot user
}

// TokenUser returns the token's user (GET /user,
// https://docs.gitlab.com/api/users/#get-the-current-user). A token that
// is invalid, expired or revoked gives a 401 (StatusCode).
func (c *Client) TokenUser(ctx context.Context) (TokenUser, error) {
	var u *gl.User
	err := c.call(ctx, "current user", idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		u, resp, err = c.api.Users.CurrentUser(o...)
		return resp, err
	})
	if err != nil {
		return TokenUser{}, err
	}
	if u.ID <= 0 {
		return TokenUser{}, errors.New("gitlab: current user: no id in answer")
	}
	return TokenUser{ID: int(u.ID), Username: u.Username, Admin: u.IsAdmin, Bot: u.Bot}, nil
}

// TokenInfo is what GitLab says of the token itself.
type TokenInfo struct {
	Scopes    []string  // e.g. ["api"]
	ExpiresAt time.Time // zero when it never expires
}

// TokenInfo returns the token's scopes and expiry (GET
// /personal_access_tokens/self,
// https://docs.gitlab.com/api/personal_access_tokens/#get-details-on-a-personal-access-token).
// It answers for personal, project and group access tokens; GitLab
// versions without the route, and other kinds of token, answer 404 or 401
// (StatusCode).
func (c *Client) TokenInfo(ctx context.Context) (TokenInfo, error) {
	var t *gl.PersonalAccessToken
	err := c.call(ctx, "token details", idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		t, resp, err = c.api.PersonalAccessTokens.GetSinglePersonalAccessToken(o...)
		return resp, err
	})
	if err != nil {
		return TokenInfo{}, err
	}
	out := TokenInfo{Scopes: t.Scopes}
	if t.ExpiresAt != nil {
		out.ExpiresAt = time.Time(*t.ExpiresAt)
	}
	return out, nil
}

// ProjectAccess is the configured project and a user's access to it.
type ProjectAccess struct {
	ID     int
	Path   string // path_with_namespace
	WebURL string
	// Level is the user's access level: the higher of its project and
	// group memberships, or, when neither shows, what it inherits from a
	// group higher up; 0 when it has none.
	Level int
}

// ProjectAccess returns the configured project and userID's access level
// in it (GET /projects/:id, its permissions.project_access and
// group_access, https://docs.gitlab.com/api/projects/#get-a-single-project;
// when both are null, GET /projects/:id/members/all/:user_id, which counts
// memberships inherited from groups higher up,
// https://docs.gitlab.com/api/members/#get-a-member-of-a-group-or-project-including-inherited-and-invited-members).
// A project the user cannot see answers 404: the error wraps
// sdesk.ErrNotFound.
func (c *Client) ProjectAccess(ctx context.Context, userID int) (ProjectAccess, error) {
	var p *gl.Project
	err := c.call(ctx, "get project "+c.project, idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		p, resp, err = c.api.Projects.GetProject(c.project, nil, o...)
		return resp, err
	})
	if err != nil {
		return ProjectAccess{}, err
	}
	out := ProjectAccess{ID: int(p.ID), Path: p.PathWithNamespace, WebURL: p.WebURL}
	if p.Permissions != nil {
		if a := p.Permissions.ProjectAccess; a != nil {
			out.Level = max(out.Level, int(a.AccessLevel))
		}
		if a := p.Permissions.GroupAccess; a != nil {
			out.Level = max(out.Level, int(a.AccessLevel))
		}
	}
	if out.Level > 0 {
		return out, nil
	}
	var m *gl.ProjectMember
	err = c.call(ctx, "get inherited member", idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		m, resp, err = c.api.ProjectMembers.GetInheritedProjectMember(out.ID, int64(userID), o...)
		return resp, err
	})
	switch {
	case StatusCode(err) == 404:
		return out, nil // not a member anywhere above the project
	case err != nil:
		return ProjectAccess{}, err
	}
	out.Level = int(m.AccessLevel)
	return out, nil
}

// Hook is a project webhook as the doctor checks it.
type Hook struct {
	URL                      string
	IssuesEvents             bool
	ConfidentialIssuesEvents bool
	NoteEvents               bool
	ConfidentialNoteEvents   bool
	// AlertStatus is GitLab's: "executable", "temporarily_disabled" or
	// "disabled" (after failed deliveries); empty on versions without it.
	AlertStatus string
}

// MissingTriggers names the triggers sdesk needs that h lacks, as GitLab's
// webhook settings label them: "Issues events", "Confidential issues
// events", "Comments", "Confidential comments". Service Desk issues are
// confidential, and notes on them arrive only as confidential note events
// (https://docs.gitlab.com/user/project/integrations/webhook_events/).
func (h Hook) MissingTriggers() []string {
	var out []string
	for _, t := range []struct {
		on   bool
		name string
	}{
		{h.IssuesEvents, "Issues events"},
		{h.ConfidentialIssuesEvents, "Confidential issues events"},
		{h.NoteEvents, "Comments"},
		{h.ConfidentialNoteEvents, "Confidential comments"},
	} {
		if !t.on {
			out = append(out, t.name)
		}
	}
	return out
}

// ProjectHooks returns the project's webhooks (GET /projects/:id/hooks,
// https://docs.gitlab.com/api/project_webhooks/#list-webhooks-for-a-project),
// all pages. It needs the Maintainer role: below it GitLab answers 403
// (StatusCode).
func (c *Client) ProjectHooks(ctx context.Context) ([]Hook, error) {
	var out []Hook
	opt := &gl.ListProjectHooksOptions{ListOptions: gl.ListOptions{PerPage: 100}}
	more, err := eachPage(ctx, c, "list project hooks", 20, func(page int64, o ...gl.RequestOptionFunc) ([]*gl.ProjectHook, *gl.Response, error) {
		opt.Page = page
		return c.api.Projects.ListProjectHooks(c.project, opt, o...)
	}, func(h *gl.ProjectHook) {
		out = append(out, Hook{
			URL: h.URL, IssuesEvents: h.IssuesEvents, ConfidentialIssuesEvents: h.ConfidentialIssuesEvents,
			NoteEvents: h.NoteEvents, ConfidentialNoteEvents: h.ConfidentialNoteEvents, AlertStatus: h.AlertStatus,
		})
	})
	switch {
	case err != nil:
		return nil, err
	case more:
		return nil, fmt.Errorf("gitlab: list project hooks: more than 20 pages")
	}
	return out, nil
}
