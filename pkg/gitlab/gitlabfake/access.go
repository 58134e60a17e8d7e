package gitlabfake

import (
	"net/http"
	"slices"
	"strconv"
)

// What `sdesk doctor` reads of the token and the project: the token
// user's access level (GET /projects/:id's permissions, and GET
// /projects/:id/members/all/:user_id for access inherited from a group
// higher up), the token's scopes (GET /personal_access_tokens/self) and the
// project's webhooks (GET /projects/:id/hooks).
//
// Behaviour modelled on GitLab:
//   - GET /projects/:id answers 404 "404 Project Not Found" when the user
//     has no access (a private project); else the project with
//     permissions.project_access and permissions.group_access, each null
//     when that membership does not exist. Access inherited from a parent
//     group shows in neither, only in /members/all/:user_id.
//   - GET /projects/:id/hooks needs Maintainer (40): below it, 403
//     "403 Forbidden".
//   - Access levels only change these routes: the issue, note and upload
//     routes answer any valid token.

// Access levels (https://docs.gitlab.com/api/members/#roles).
const (
	NoAccess   = 0
	Guest      = 10
	Reporter   = 20
	Developer  = 30
	Maintainer = 40
	Owner      = 50
)

// Hook is a project webhook as GET /projects/:id/hooks shows it.
type Hook struct {
	ID                       int // set by AddHook
	URL                      string
	PushEvents               bool
	IssuesEvents             bool
	ConfidentialIssuesEvents bool
	NoteEvents               bool
	ConfidentialNoteEvents   bool
	// AlertStatus is "executable" (the default when empty),
	// "temporarily_disabled" or "disabled": GitLab disables a hook after
	// failed deliveries.
	AlertStatus string
}

// accessState is the token user's access, the token's scopes and the
// project's hooks; the zero value is set up on first use
// (Server.accessState).
type accessState struct {
	ready          bool
	project, group int // direct project and group membership levels
	inherited      int // membership inherited from a group higher up
	scopes         []string
	hooks          []Hook
}

// accessState returns the state, set up on first use: the user is a
// direct Maintainer of the project, the token has the api scope, the
// project has no hooks. s.mu is held.
func (s *Server) accessState() *accessState {
	a := &s.access
	if !a.ready {
		*a = accessState{ready: true, project: Maintainer, scopes: []string{"api"}}
	}
	return a
}

// level is the user's effective access level: the highest membership.
func (a *accessState) level() int { return max(a.project, a.group, a.inherited) }

// SetAccess sets the token user's direct membership levels: in the project
// and in the project's group (NoAccess: none). A new fake has Maintainer
// in the project and nothing in the group.
func (s *Server) SetAccess(project, group int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accessState()
	a.project, a.group = project, group
}

// SetInheritedAccess sets the level the token user inherits from a group
// higher up (NoAccess: none); GET /projects/:id does not show it.
func (s *Server) SetInheritedAccess(level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessState().inherited = level
}

// SetTokenScopes sets the scopes GET /personal_access_tokens/self shows
// (["api"] in a new fake).
func (s *Server) SetTokenScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessState().scopes = slices.Clone(scopes)
}

// AddHook adds a project webhook and returns its ID.
func (s *Server) AddHook(h Hook) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accessState()
	h.ID = len(a.hooks) + 1
	a.hooks = append(a.hooks, h)
	return h.ID
}

// accessRoute maps the paths of this file's routes; seg is the path below
// /api/v4, unescaped segment by segment.
func accessRoute(seg []string) (route, bool) {
	switch {
	case len(seg) == 2 && seg[0] == "personal_access_tokens" && seg[1] == "self":
		return route{name: "/personal_access_tokens/self"}, true
	case len(seg) == 3 && seg[0] == "projects" && seg[2] == "hooks":
		return route{name: "/projects/:id/hooks", project: seg[1]}, true
	case len(seg) == 5 && seg[0] == "projects" && seg[2] == "members" && seg[3] == "all":
		if n, err := strconv.Atoi(seg[4]); err == nil && n > 0 {
			// The user ID travels in iid: the route has no issue.
			return route{name: "/projects/:id/members/all/:user_id", project: seg[1], iid: n}, true
		}
	}
	return route{}, false
}

// serveAccess answers the routes of this file and GET /projects/:id, and
// reports whether it did. The token and the project are checked already;
// s.mu is held.
func (s *Server) serveAccess(w http.ResponseWriter, r *http.Request, rt route) bool {
	if r.Method != http.MethodGet {
		return false
	}
	a := s.accessState()
	switch rt.name {
	case "/projects/:id":
		if a.level() == NoAccess {
			message(w, http.StatusNotFound, "404 Project Not Found")
			return true
		}
		access := func(level int) any {
			if level == NoAccess {
				return nil
			}
			return map[string]any{"access_level": level, "notification_level": 3}
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": s.projectID, "path_with_namespace": s.projectPath,
			"web_url": s.srv.URL + "/" + s.projectPath, "visibility": "private",
			"permissions": map[string]any{"project_access": access(a.project), "group_access": access(a.group)},
		})
	case "/projects/:id/hooks":
		if a.level() < Maintainer {
			message(w, http.StatusForbidden, "403 Forbidden")
			return true
		}
		out := make([]map[string]any, 0, len(a.hooks))
		for _, h := range a.hooks {
			status := h.AlertStatus
			if status == "" {
				status = "executable"
			}
			out = append(out, map[string]any{
				"id": h.ID, "url": h.URL, "name": "", "description": "", "project_id": s.projectID,
				"push_events": h.PushEvents, "push_events_branch_filter": "",
				"issues_events": h.IssuesEvents, "confidential_issues_events": h.ConfidentialIssuesEvents,
				"merge_requests_events": false, "tag_push_events": false,
				"note_events": h.NoteEvents, "confidential_note_events": h.ConfidentialNoteEvents,
				"job_events": false, "pipeline_events": false, "wiki_page_events": false,
				"deployment_events": false, "releases_events": false, "enable_ssl_verification": true,
				"alert_status": status, "disabled_until": nil, "created_at": "2024-05-01T10:00:00.000Z",
			})
		}
		writeJSON(w, http.StatusOK, out)
	case "/projects/:id/members/all/:user_id":
		if rt.iid != s.userID || a.level() == NoAccess {
			message(w, http.StatusNotFound, "404 Not found")
			return true
		}
		m := s.userJSON(s.userID, s.username)
		m["access_level"] = a.level()
		m["membership_state"] = "active"
		writeJSON(w, http.StatusOK, m)
	case "/personal_access_tokens/self":
		writeJSON(w, http.StatusOK, map[string]any{
			"id": 1, "name": "sdesk", "revoked": false, "created_at": "2024-05-01T10:00:00.000Z",
			"description": "", "scopes": slices.Clone(a.scopes), "user_id": s.userID,
			"last_used_at": nil, "active": true, "expires_at": nil,
		})
	default:
		return false
	}
	return true
}
