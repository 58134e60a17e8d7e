package gitlabfake_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
)

func TestAccessRoutes(t *testing.T) {
	f := gitlabfake.New(t)
	get := func(path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", f.URL()+"/api/v4"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("PRIVATE-TOKEN", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tok := f.Token()
	steps := []struct {
		name       string
		setup      func()
		path, tok  string
		wantStatus int
		wantBody   []string
	}{
		{"project: a new fake's user is a direct Maintainer", nil, "/projects/acme%2Fsupport", tok, 200,
			[]string{`"permissions":{"group_access":null,"project_access":{"access_level":40,"notification_level":3}}`, `"id":4242`}},
		{"token checked first", nil, "/projects/4242/hooks", "nope", 401, []string{"401 Unauthorized"}},
		{"no hooks", nil, "/projects/4242/hooks", tok, 200, []string{"[]"}},
		{"a hook", func() {
			f.AddHook(gitlabfake.Hook{URL: "https://sdesk.example/gitlab", IssuesEvents: true, ConfidentialNoteEvents: true})
		}, "/projects/4242/hooks", tok, 200,
			[]string{`"id":1`, `"url":"https://sdesk.example/gitlab"`, `"issues_events":true`, `"confidential_issues_events":false`,
				`"note_events":false`, `"confidential_note_events":true`, `"alert_status":"executable"`}},
		{"hooks of another project", nil, "/projects/4243/hooks", tok, 404, []string{"Project Not Found"}},
		{"token scopes", nil, "/personal_access_tokens/self", tok, 200, []string{`"scopes":["api"]`, `"user_id":100`}},
		{"token scopes changed", func() { f.SetTokenScopes("read_api") }, "/personal_access_tokens/self", tok, 200, []string{`"scopes":["read_api"]`}},
		{"member through a parent group", nil, "/projects/4242/members/all/100", tok, 200, []string{`"access_level":40`, `"username":"sdesk-bot"`}},
		{"another user is no member", nil, "/projects/4242/members/all/101", tok, 404, []string{"404"}},
		{"a Developer may not list hooks", func() { f.SetAccess(gitlabfake.Developer, gitlabfake.NoAccess) }, "/projects/4242/hooks", tok, 403, []string{"403 Forbidden"}},
		{"group access shows too", func() { f.SetAccess(gitlabfake.Guest, gitlabfake.Reporter) }, "/projects/4242", tok, 200,
			[]string{`"group_access":{"access_level":20,"notification_level":3}`, `"project_access":{"access_level":10,"notification_level":3}`}},
		{"no access: the project is hidden", func() { f.SetAccess(gitlabfake.NoAccess, gitlabfake.NoAccess) }, "/projects/4242", tok, 404, []string{"404 Project Not Found"}},
		{"inherited access is not in permissions", func() { f.SetInheritedAccess(gitlabfake.Maintainer) }, "/projects/4242", tok, 200,
			[]string{`"permissions":{"group_access":null,"project_access":null}`}},
		{"inherited access shows in members/all", nil, "/projects/4242/members/all/100", tok, 200, []string{`"access_level":40`}},
		{"inherited Maintainer lists hooks", nil, "/projects/4242/hooks", tok, 200, []string{`"url":"https://sdesk.example/gitlab"`}},
	}
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		status, body := get(s.path, s.tok)
		if status != s.wantStatus {
			t.Errorf("%s: got %d %s, want %d", s.name, status, body, s.wantStatus)
		}
		for _, w := range s.wantBody {
			if !strings.Contains(body, w) {
				t.Errorf("%s: got %s, want it to contain %s", s.name, body, w)
			}
		}
	}
}
