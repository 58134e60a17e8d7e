package gitlabfake_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
)

func TestServe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	f := gitlabfake.Serve(l, gitlabfake.WithToken("dev-gitlab-token"))
	defer f.Close()
	if got, want := f.URL(), "http://"+addr; got != want {
		t.Errorf("URL: got %s, want %s", got, want)
	}
	c := &http.Client{Timeout: 2 * time.Second}
	get := func(token string) (int, string, error) {
		req, err := http.NewRequest("GET", f.URL()+"/api/v4/user", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("PRIVATE-TOKEN", token)
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	tests := []struct {
		token  string
		status int
		body   string
	}{
		{"dev-gitlab-token", 200, `"username":"sdesk-bot"`},
		{"other", 401, "401 Unauthorized"},
	}
	for _, tc := range tests {
		status, body, err := get(tc.token)
		if err != nil || status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("GET /user with %q: got %d %s %v, want %d with %s", tc.token, status, body, err, tc.status, tc.body)
		}
	}

	f.Close()
	f.Close() // a second Close does nothing
	if _, _, err := get("dev-gitlab-token"); err == nil {
		t.Error("after Close the fake still answers")
	}
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("after Close the port is still held: %v", err)
	}
	l2.Close()
}

func TestRequestsSince(t *testing.T) {
	f := gitlabfake.New(t)
	for _, p := range []string{"/user", "/version", "/projects/4242"} {
		req, err := http.NewRequest("GET", f.URL()+"/api/v4"+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("PRIVATE-TOKEN", f.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	tests := []struct {
		n    int
		want []string
	}{
		{-1, []string{"/user", "/version", "/projects/:id"}},
		{0, []string{"/user", "/version", "/projects/:id"}},
		{2, []string{"/projects/:id"}},
		{3, nil},
		{9, nil},
	}
	for _, tc := range tests {
		var got []string
		for _, r := range f.RequestsSince(tc.n) {
			if r.Status != 200 {
				t.Errorf("RequestsSince(%d): %s has status %d", tc.n, r.Route, r.Status)
			}
			got = append(got, r.Route)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("RequestsSince(%d): got %v, want %v", tc.n, got, tc.want)
		}
	}
}
