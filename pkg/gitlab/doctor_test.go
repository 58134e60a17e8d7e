package gitlab_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

func TestTokenUserAndInfo(t *testing.T) {
	ctx := context.Background()
	f := gitlabfake.New(t)
	c := newClient(t, f)
	u, err := c.TokenUser(ctx)
	if want := (gitlab.TokenUser{ID: gitlabfake.DefaultUserID, Username: gitlabfake.DefaultUsername}); err != nil || u != want {
		t.Errorf("TokenUser: got %+v, %v; want %+v", u, err, want)
	}
	info, err := c.TokenInfo(ctx)
	if err != nil || !reflect.DeepEqual(info.Scopes, []string{"api"}) || !info.ExpiresAt.IsZero() {
		t.Errorf("TokenInfo: got %+v, %v; want scopes [api], no expiry", info, err)
	}
	f.SetTokenScopes("read_api")
	if info, err := c.TokenInfo(ctx); err != nil || !reflect.DeepEqual(info.Scopes, []string{"read_api"}) {
		t.Errorf("TokenInfo after SetTokenScopes: got %+v, %v", info, err)
	}

	bad := newClient(t, f, func(cfg *gitlab.ClientConfig) { cfg.Token = "glpat-wrong" })
	if _, err := bad.TokenUser(ctx); gitlab.StatusCode(err) != 401 || !sdesk.IsPermanent(err) {
		t.Errorf("TokenUser with a wrong token: got %v (status %d), want a permanent 401", err, gitlab.StatusCode(err))
	}
	if _, err := bad.TokenInfo(ctx); gitlab.StatusCode(err) != 401 {
		t.Errorf("TokenInfo with a wrong token: got %v, want 401", err)
	}
	if gitlab.StatusCode(errors.New("dial tcp: refused")) != 0 || gitlab.StatusCode(nil) != 0 {
		t.Error("StatusCode of an error without an answer: want 0")
	}
}

func TestProjectAccess(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name                      string
		project, group, inherited int
		wantLevel                 int
		wantNotFound              bool
		byID                      bool
		wantMembersAllRequest     bool
	}{
		{name: "direct maintainer", project: gitlabfake.Maintainer, wantLevel: 40},
		{name: "group developer above a project guest", project: gitlabfake.Guest, group: gitlabfake.Developer, wantLevel: 30},
		{name: "group reporter only", group: gitlabfake.Reporter, wantLevel: 20},
		{name: "guest", project: gitlabfake.Guest, wantLevel: 10},
		{name: "inherited from a parent group", inherited: gitlabfake.Reporter, wantLevel: 20, wantMembersAllRequest: true},
		{name: "inherited, project by ID", inherited: gitlabfake.Owner, wantLevel: 50, byID: true, wantMembersAllRequest: true},
		{name: "no access: the project is not found", wantNotFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := gitlabfake.New(t)
			f.SetAccess(tt.project, tt.group)
			f.SetInheritedAccess(tt.inherited)
			var mod []func(*gitlab.ClientConfig)
			if tt.byID {
				mod = append(mod, withProject(strconv.Itoa(gitlabfake.DefaultProjectID)))
			}
			p, err := newClient(t, f, mod...).ProjectAccess(ctx, gitlabfake.DefaultUserID)
			if tt.wantNotFound {
				if !errors.Is(err, sdesk.ErrNotFound) || gitlab.StatusCode(err) != 404 {
					t.Errorf("got %+v, %v; want a 404 matching sdesk.ErrNotFound", p, err)
				}
				return
			}
			want := gitlab.ProjectAccess{ID: gitlabfake.DefaultProjectID, Path: gitlabfake.DefaultProjectPath,
				WebURL: f.URL() + "/" + gitlabfake.DefaultProjectPath, Level: tt.wantLevel}
			if err != nil || p != want {
				t.Errorf("got %+v, %v; want %+v", p, err, want)
			}
			if got := f.CountRequests("GET", "/projects/:id/members/all/:user_id") > 0; got != tt.wantMembersAllRequest {
				t.Errorf("asked /members/all: got %v, want %v", got, tt.wantMembersAllRequest)
			}
		})
	}
	f := gitlabfake.New(t)
	f.SetAccess(gitlabfake.NoAccess, gitlabfake.NoAccess)
	f.SetInheritedAccess(gitlabfake.Developer)
	if p, err := newClient(t, f).ProjectAccess(ctx, 999); err != nil || p.Level != 0 {
		t.Errorf("another user's access: got %+v, %v; want level 0 (not a member)", p, err)
	}
}

func TestProjectHooks(t *testing.T) {
	ctx := context.Background()
	f := gitlabfake.New(t)
	c := newClient(t, f)
	if hooks, err := c.ProjectHooks(ctx); err != nil || len(hooks) != 0 {
		t.Errorf("no hooks: got %+v, %v", hooks, err)
	}
	f.AddHook(gitlabfake.Hook{URL: "https://sdesk.example/gitlab", IssuesEvents: true, NoteEvents: true, PushEvents: true})
	f.AddHook(gitlabfake.Hook{URL: "https://ci.example/x", ConfidentialIssuesEvents: true, ConfidentialNoteEvents: true, AlertStatus: "disabled"})
	hooks, err := c.ProjectHooks(ctx)
	want := []gitlab.Hook{
		{URL: "https://sdesk.example/gitlab", IssuesEvents: true, NoteEvents: true, AlertStatus: "executable"},
		{URL: "https://ci.example/x", ConfidentialIssuesEvents: true, ConfidentialNoteEvents: true, AlertStatus: "disabled"},
	}
	if err != nil || !reflect.DeepEqual(hooks, want) {
		t.Errorf("got %+v, %v; want %+v", hooks, err, want)
	}
	if got := hooks[0].MissingTriggers(); !reflect.DeepEqual(got, []string{"Confidential issues events", "Confidential comments"}) {
		t.Errorf("MissingTriggers: got %q", got)
	}
	if got := hooks[1].MissingTriggers(); !reflect.DeepEqual(got, []string{"Issues events", "Comments"}) {
		t.Errorf("MissingTriggers: got %q", got)
	}
	if got := (gitlab.Hook{IssuesEvents: true, ConfidentialIssuesEvents: true, NoteEvents: true, ConfidentialNoteEvents: true}).MissingTriggers(); got != nil {
		t.Errorf("MissingTriggers of a complete hook: got %q, want none", got)
	}

	f.SetAccess(gitlabfake.Developer, gitlabfake.NoAccess)
	if _, err := c.ProjectHooks(ctx); gitlab.StatusCode(err) != 403 {
		t.Errorf("as Developer: got %v, want 403", err)
	}
}

func TestAccessLevelName(t *testing.T) {
	for level, want := range map[int]string{0: "no access (0)", 10: "Guest (10)", 15: "Planner (15)", 20: "Reporter (20)",
		30: "Developer (30)", 40: "Maintainer (40)", 50: "Owner (50)", 5: "Minimal Access (5)", 60: "access level (60)"} {
		if got := gitlab.AccessLevelName(level); got != want {
			t.Errorf("AccessLevelName(%d): got %q, want %q", level, got, want)
		}
	}
}
