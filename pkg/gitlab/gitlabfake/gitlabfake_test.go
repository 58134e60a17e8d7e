package gitlabfake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
)

func TestServer(t *testing.T) {
	f := gitlabfake.New(t)
	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, f.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("PRIVATE-TOKEN", token)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tok := f.Token()
	f.FailNext("GET", "/user", http.StatusBadGateway, 1)
	tests := []struct {
		name, method, path, token, body string
		wantStatus                      int
		wantBody                        string
	}{
		{"injected fault before auth", "GET", "/api/v4/user", "", "", 502, `"502 Bad Gateway"`},
		{"no token", "GET", "/api/v4/user", "", "", 401, `{"message":"401 Unauthorized"}`},
		{"wrong token", "GET", "/api/v4/user", "nope", "", 401, `{"message":"401 Unauthorized"}`},
		{"user", "GET", "/api/v4/user", tok, "", 200, `"username":"sdesk-bot"`},
		{"create by id", "POST", "/api/v4/projects/4242/issues", tok, `{"title":"a","description":"x\n/close","labels":"l1,l2","confidential":true}`, 201, `"state":"closed"`},
		{"create by encoded path", "POST", "/api/v4/projects/acme%2Fsupport/issues", tok, `{"title":"b"}`, 201, `"iid":2`},
		{"unencoded path is another route", "GET", "/api/v4/projects/acme/support/issues", tok, "", 404, `404`},
		{"other project", "GET", "/api/v4/projects/4243/issues/1", tok, "", 404, `Project Not Found`},
		{"missing title", "POST", "/api/v4/projects/4242/issues", tok, `{}`, 400, `title is missing`},
		{"search", "GET", "/api/v4/projects/4242/issues?search=x&in=description", tok, "", 200, `"iid":1`},
		{"reopen", "PUT", "/api/v4/projects/4242/issues/1", tok, `{"state_event":"reopen"}`, 200, `"state":"opened"`},
		{"internal note", "POST", "/api/v4/projects/4242/issues/1/notes", tok, `{"body":"psst","internal":true}`, 201, `"internal":true`},
		{"missing issue", "GET", "/api/v4/projects/4242/issues/9", tok, "", 404, `Issue Not Found`},
	}
	for _, tt := range tests {
		status, body := do(tt.method, tt.path, tt.token, tt.body)
		if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s: got %d %s, want %d containing %s", tt.name, status, body, tt.wantStatus, tt.wantBody)
		}
	}
	is, ok := f.Issue(1)
	if !ok || is.Description != "x\n" || strings.Join(is.Labels, ",") != "l1,l2" || !is.Confidential {
		t.Errorf("issue 1: got %+v, want quick action stripped, labels l1,l2, confidential", is)
	}
	if n := f.CountRequests("POST", "/projects/:id/issues"); n != 3 {
		t.Errorf("CountRequests: got %d, want 3", n)
	}
}

func TestMentions(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"none", "hello, a @ b", nil},
		{"plain", "hi @all and @acme/support.", []string{"all", "acme/support."}},
		{"in code and words", "`@ada` mail bob@x.test", []string{"ada", "x.test"}},
		{"character references", "&#64;all &commat;bob &#x40;eve", []string{"all", "bob", "eve"}},
		{"backslash escape", `@\_bob`, []string{"_bob"}},
		{"after a quick action is removed", "/close\n@ada", []string{"ada"}},
		{"joiner after @", "@\u200dall", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := gitlabfake.New(t)
			req, err := http.NewRequest("POST", f.URL()+"/api/v4/projects/4242/issues", strings.NewReader(`{"title":"t"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("PRIVATE-TOKEN", f.Token())
			req.Header.Set("Content-Type", "application/json")
			body, _ := json.Marshal(map[string]string{"body": tt.text})
			note, err := http.NewRequest("POST", f.URL()+"/api/v4/projects/4242/issues/1/notes", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			note.Header = req.Header.Clone()
			for _, r := range []*http.Request{req, note} {
				resp, err := http.DefaultClient.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("%s %s: status %d", r.Method, r.URL.Path, resp.StatusCode)
				}
			}
			var got []string
			for _, m := range f.Mentions() {
				if m.IID != 1 {
					t.Errorf("mention %+v: want IID 1", m)
				}
				got = append(got, m.Name)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Mentions after a note %q: got %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	f := gitlabfake.New(t)
	get := func(token string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest("GET", f.URL()+"/api/v4/version", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("PRIVATE-TOKEN", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	if status, v := get(f.Token()); status != 200 || v["version"] != gitlabfake.DefaultVersion || v["revision"] == "" {
		t.Errorf("GET /version: got %d %v, want 200 with version %s and a revision", status, v, gitlabfake.DefaultVersion)
	}
	f.SetVersion("16.11.3-ee")
	if status, v := get(f.Token()); status != 200 || v["version"] != "16.11.3-ee" {
		t.Errorf("GET /version after SetVersion: got %d %v, want 200 with version 16.11.3-ee", status, v)
	}
	if status, _ := get("nope"); status != http.StatusUnauthorized {
		t.Errorf("GET /version without the token: got %d, want 401 (authenticated users only)", status)
	}
	if n := f.CountRequests("GET", "/version"); n != 3 {
		t.Errorf("CountRequests(/version): got %d, want 3", n)
	}
}
