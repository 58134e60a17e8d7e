package gitlab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/gfm"
	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

func newClient(t *testing.T, f *gitlabfake.Server, mod ...func(*gitlab.ClientConfig)) *gitlab.Client {
	t.Helper()
	cfg := gitlab.ClientConfig{BaseURL: f.URL(), Token: f.Token(), Project: f.ProjectPath()}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := gitlab.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func withProject(p string) func(*gitlab.ClientConfig) {
	return func(c *gitlab.ClientConfig) { c.Project = p }
}

func withRetries(n int) func(*gitlab.ClientConfig) {
	return func(c *gitlab.ClientConfig) { c.MaxRetries = n }
}

func withTransport(rt http.RoundTripper) func(*gitlab.ClientConfig) {
	return func(c *gitlab.ClientConfig) { c.HTTPClient = &http.Client{Transport: rt} }
}

func mustCreate(t *testing.T, c *gitlab.Client, title, desc string) sdesk.Issue {
	t.Helper()
	is, err := c.CreateIssue(context.Background(), sdesk.NewIssue{Title: title, Description: desc, Confidential: true})
	if err != nil {
		t.Fatalf("CreateIssue: %v", err)
	}
	return is
}

func TestNewClientValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  gitlab.ClientConfig
	}{
		{"no scheme", gitlab.ClientConfig{BaseURL: "gitlab.com", Token: "t", Project: "1"}},
		{"bad scheme", gitlab.ClientConfig{BaseURL: "ftp://gitlab.com", Token: "t", Project: "1"}},
		{"no token", gitlab.ClientConfig{BaseURL: "https://gitlab.com", Project: "1"}},
		{"no project", gitlab.ClientConfig{BaseURL: "https://gitlab.com", Token: "t", Project: " / "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := gitlab.NewClient(tt.cfg); err == nil {
				t.Errorf("NewClient(%+v): got nil error, want one", tt.cfg)
			}
		})
	}
}

// TestClientMethods runs every method with the project given by ID, by
// path, and by a path that needs escaping.
func TestClientMethods(t *testing.T) {
	tests := []struct {
		name    string
		opts    []gitlabfake.Option
		project func(*gitlabfake.Server) string
	}{
		{"numeric id", nil, func(f *gitlabfake.Server) string { return strconv.Itoa(f.ProjectID()) }},
		{"full path", nil, (*gitlabfake.Server).ProjectPath},
		{"dotted nested path", []gitlabfake.Option{gitlabfake.WithProject(77, "acme.corp/help/support.desk")}, (*gitlabfake.Server).ProjectPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := gitlabfake.New(t, tt.opts...)
			c := newClient(t, f, withProject(tt.project(f)))
			ctx := context.Background()

			in := sdesk.NewIssue{Title: "Printer on fire", Description: "It burns.\n\n<!-- sdesk:abc123 -->", Labels: []string{"discord", "support"}, Confidential: true}
			is, err := c.CreateIssue(ctx, in)
			if err != nil {
				t.Fatalf("CreateIssue: %v", err)
			}
			if is.IID != 1 || is.ID == 0 || is.Title != in.Title || is.State != "opened" {
				t.Errorf("CreateIssue: got %+v, want iid 1, an id, title %q, state opened", is, in.Title)
			}
			if want := f.URL() + "/" + f.ProjectPath() + "/-/issues/1"; is.WebURL != want {
				t.Errorf("WebURL: got %q, want %q", is.WebURL, want)
			}
			stored, _ := f.Issue(1)
			if !stored.Confidential || strings.Join(stored.Labels, ",") != "discord,support" || stored.Description != in.Description {
				t.Errorf("stored issue: got confidential=%v labels=%v description=%q, want true [discord support] %q",
					stored.Confidential, stored.Labels, stored.Description, in.Description)
			}

			got, err := c.GetIssue(ctx, 1)
			if err != nil || !reflect.DeepEqual(got, is) {
				t.Errorf("GetIssue: got %+v, %v; want %+v, nil", got, err, is)
			}
			f.EditIssue(1, func(is *gitlabfake.Issue) {
				is.Labels, is.Assignees = []string{"bug", "discord"}, []string{"alice", "bob"}
			})
			edited, _ := f.Issue(1)
			got, err = c.GetIssue(ctx, 1)
			if err != nil || !slices.Equal(got.Labels, []string{"bug", "discord"}) || !slices.Equal(got.Assignees, []string{"alice", "bob"}) ||
				!got.UpdatedAt.Equal(edited.UpdatedAt) || got.UpdatedAt.IsZero() {
				t.Errorf("GetIssue after an edit: got labels %q, assignees %q, updated %v, %v; want [bug discord], [alice bob], %v",
					got.Labels, got.Assignees, got.UpdatedAt, err, edited.UpdatedAt)
			}
			all, err := c.FindIssuesByMarker(ctx, "<!-- sdesk:abc123 -->")
			var found sdesk.Issue
			if len(all) > 0 {
				found = all[0]
			}
			if err != nil || found.IID != 1 {
				t.Errorf("FindIssuesByMarker: got %+v, %v; want iid 1", found, err)
			}

			if err := c.SetDescription(ctx, 1, "new text"); err != nil {
				t.Fatalf("SetDescription: %v", err)
			}
			if s, _ := f.Issue(1); s.Description != "new text" {
				t.Errorf("description: got %q, want %q", s.Description, "new text")
			}
			for _, close := range []bool{true, true, false} {
				if err := c.SetState(ctx, 1, close); err != nil {
					t.Fatalf("SetState(%v): %v", close, err)
				}
				want := map[bool]string{true: "closed", false: "opened"}[close]
				if s, _ := f.Issue(1); s.State != want {
					t.Errorf("after SetState(%v): got state %q, want %q", close, s.State, want)
				}
			}

			noteID, err := c.CreateNote(ctx, 1, "Thanks for the report")
			if err != nil {
				t.Fatalf("CreateNote: %v", err)
			}
			note, err := c.GetNote(ctx, 1, noteID)
			want := sdesk.Note{ID: noteID, Body: "Thanks for the report", Author: sdesk.Author{
				ID: gitlabfake.DefaultUserID, Name: gitlabfake.DefaultUsername, Username: gitlabfake.DefaultUsername,
				AvatarURL: f.URL() + "/uploads/-/system/user/avatar/100/avatar.png",
			}}
			if err != nil || note != want {
				t.Errorf("GetNote: got %+v, %v; want %+v", note, err, want)
			}
			internalID, _ := f.AddNote(1, 501, "agents only", true)
			note, err = c.GetNote(ctx, 1, internalID)
			if err != nil || !note.Internal || note.Author.ID != 501 {
				t.Errorf("GetNote(internal): got %+v, %v; want Internal and author 501", note, err)
			}

			id, err := c.CurrentUserID(ctx)
			if err != nil || id != gitlabfake.DefaultUserID {
				t.Errorf("CurrentUserID: got %d, %v; want %d", id, err, gitlabfake.DefaultUserID)
			}

			png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)
			f.AddUpload("0123456789abcdef0123456789abcdef", "screen shot.png", png)
			file, err := c.DownloadUpload(ctx, "0123456789abcdef0123456789abcdef", "screen shot.png")
			if err != nil {
				t.Fatalf("DownloadUpload: %v", err)
			}
			if file.Name != "screen shot.png" || file.ContentType != "image/png" || !bytes.Equal(file.Data, png) {
				t.Errorf("DownloadUpload: got %q %q %d bytes, want %q image/png %d bytes", file.Name, file.ContentType, len(file.Data), "screen shot.png", len(png))
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	f := gitlabfake.New(t)
	c := newClient(t, f)
	ctx := context.Background()
	mustCreate(t, c, "one", "first")
	calls := map[string]func() error{
		"GetIssue":           func() error { _, err := c.GetIssue(ctx, 99); return err },
		"SetDescription":     func() error { return c.SetDescription(ctx, 99, "x") },
		"SetState":           func() error { return c.SetState(ctx, 99, true) },
		"CreateNote":         func() error { _, err := c.CreateNote(ctx, 99, "x"); return err },
		"GetNote":            func() error { _, err := c.GetNote(ctx, 1, 424242); return err },
		"FindIssuesByMarker": func() error { _, err := c.FindIssuesByMarker(ctx, "no-such-marker"); return err },
		"DownloadUpload":     func() error { _, err := c.DownloadUpload(ctx, "abc", "missing.txt"); return err },
		"wrong project": func() error {
			_, err := newClient(t, f, withProject("acme/other")).GetIssue(ctx, 1)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, sdesk.ErrNotFound) {
				t.Errorf("got %v, want an error wrapping sdesk.ErrNotFound", err)
			}
		})
	}
}

func TestFindIssueByMarker(t *testing.T) {
	f := gitlabfake.New(t)
	c := newClient(t, f)
	ctx := context.Background()
	// GitLab's search matches words in any order: these match the search
	// "job 42" but do not contain the marker.
	for i := range 104 {
		mustCreate(t, c, fmt.Sprintf("decoy %d", i), "job 42 for sdesk, not the one")
	}
	mustCreate(t, c, "target", "report\n\nsdesk job 42\n")
	mustCreate(t, c, "later duplicate", "sdesk job 42")

	all, err := c.FindIssuesByMarker(ctx, "sdesk job 42")
	var got sdesk.Issue
	if len(all) > 0 {
		got = all[0]
	}
	if err != nil || got.IID != 105 {
		t.Fatalf("FindIssuesByMarker: got %+v, %v; want iid 105 (oldest exact match, on page 2)", got, err)
	}
	reqs := f.Requests()
	last := reqs[len(reqs)-1]
	if q := last.Query; q.Get("search") != "sdesk job 42" || q.Get("in") != "description" || q.Get("page") != "2" {
		t.Errorf("last search query: got %v, want search, in=description, page=2", q)
	}
	if _, err := c.FindIssuesByMarker(ctx, "sdesk job 43"); !errors.Is(err, sdesk.ErrNotFound) {
		t.Errorf("missing marker: got %v, want sdesk.ErrNotFound", err)
	}
	if _, err := c.FindIssuesByMarker(ctx, " "); err == nil || errors.Is(err, sdesk.ErrNotFound) {
		t.Errorf("empty marker: got %v, want a non-NotFound error", err)
	}
}

// TestCreateRetryPolicy: creates are retried only when GitLab certainly did
// not take the request.
func TestCreateRetryPolicy(t *testing.T) {
	tests := []struct {
		status      int
		wantRetry   bool
		wantCreated int
	}{
		{http.StatusTooManyRequests, true, 1},
		{http.StatusBadGateway, false, 0},
		{http.StatusServiceUnavailable, true, 1},
		{http.StatusInternalServerError, false, 0},
		{http.StatusGatewayTimeout, false, 0},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			f := gitlabfake.New(t)
			c := newClient(t, f)
			f.FailNext("POST", "/projects/:id/issues", tt.status, 1)
			f.FailNext("POST", "/projects/:id/issues/:iid/notes", tt.status, 1)
			_, err := c.CreateIssue(context.Background(), sdesk.NewIssue{Title: "t"})
			if tt.wantRetry && err != nil {
				t.Fatalf("CreateIssue: got %v, want success after a retry", err)
			}
			if !tt.wantRetry && err == nil {
				t.Fatalf("CreateIssue: got success, want the %d error", tt.status)
			}
			wantReqs := map[bool]int{true: 2, false: 1}[tt.wantRetry]
			if n := f.CountRequests("POST", "/projects/:id/issues"); n != wantReqs {
				t.Errorf("POST issues: got %d requests, want %d", n, wantReqs)
			}
			if n := len(f.Issues()); n != tt.wantCreated {
				t.Errorf("issues: got %d, want %d", n, tt.wantCreated)
			}

			if !tt.wantRetry {
				mustCreate(t, c, "t", "")
			}
			_, err = c.CreateNote(context.Background(), 1, "hello")
			if (err == nil) != tt.wantRetry {
				t.Errorf("CreateNote: got %v, want success=%v", err, tt.wantRetry)
			}
			if n := f.CountRequests("POST", "/projects/:id/issues/:iid/notes"); n != wantReqs {
				t.Errorf("POST notes: got %d requests, want %d", n, wantReqs)
			}
		})
	}
}

func TestIdempotentCallsRetried(t *testing.T) {
	f := gitlabfake.New(t)
	c := newClient(t, f)
	mustCreate(t, c, "t", "d")
	f.FailNext("GET", "/projects/:id/issues/:iid", http.StatusInternalServerError, 1)
	f.FailNext("GET", "/projects/:id/issues/:iid", http.StatusGatewayTimeout, 1)
	if _, err := c.GetIssue(context.Background(), 1); err != nil {
		t.Fatalf("GetIssue: %v", err)
	}
	if n := f.CountRequests("GET", "/projects/:id/issues/:iid"); n != 3 {
		t.Errorf("GET issue: got %d requests, want 3", n)
	}
	f.FailNext("PUT", "*", http.StatusInternalServerError, 1)
	if err := c.SetState(context.Background(), 1, true); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	if is, _ := f.Issue(1); is.State != "closed" {
		t.Errorf("state: got %q, want closed", is.State)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	f := gitlabfake.New(t)
	c := newClient(t, f, withRetries(2))
	f.FailNext("GET", "/user", http.StatusInternalServerError, 10)
	_, err := c.CurrentUserID(context.Background())
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("CurrentUserID: got %v, want the 500 error", err)
	}
	if n := f.CountRequests("GET", "/user"); n != 3 {
		t.Errorf("GET /user: got %d requests, want 3 (1 + MaxRetries 2)", n)
	}
	if strings.Contains(err.Error(), f.Token()) {
		t.Errorf("error %q contains the token", err)
	}

	f2 := gitlabfake.New(t)
	c2 := newClient(t, f2, withRetries(-1))
	f2.FailNext("GET", "/user", http.StatusInternalServerError, 1)
	if _, err := c2.CurrentUserID(context.Background()); err == nil {
		t.Error("MaxRetries -1: got success, want the 500 error")
	}
	if n := f2.CountRequests("GET", "/user"); n != 1 {
		t.Errorf("MaxRetries -1: got %d requests, want 1", n)
	}
}

func TestUnauthorizedNotRetried(t *testing.T) {
	f := gitlabfake.New(t)
	c, err := gitlab.NewClient(gitlab.ClientConfig{BaseURL: f.URL(), Token: "wrong-token", Project: f.ProjectPath()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetIssue(context.Background(), 1)
	if err == nil || !strings.Contains(err.Error(), "401") || errors.Is(err, sdesk.ErrNotFound) {
		t.Errorf("GetIssue with a bad token: got %v, want a 401 error", err)
	}
	if strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("error %q contains the token", err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("got %d requests, want 1", n)
	}
}

func TestCurrentUserIDCached(t *testing.T) {
	f := gitlabfake.New(t, gitlabfake.WithUser(321, "helper"))
	c := newClient(t, f)
	var wg sync.WaitGroup
	ids := make([]int, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Go(func() { ids[i], errs[i] = c.CurrentUserID(context.Background()) })
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != 321 || errs[i] != nil {
			t.Errorf("call %d: got %d, %v; want 321, nil", i, ids[i], errs[i])
		}
	}
	f.SetUser(999, "other")
	if id, _ := c.CurrentUserID(context.Background()); id != 321 {
		t.Errorf("cached call: got %d, want 321", id)
	}
	if n := f.CountRequests("GET", "/user"); n != 1 {
		t.Errorf("GET /user: got %d requests, want 1", n)
	}
}

func TestCurrentUserIDNotCachedOnError(t *testing.T) {
	f := gitlabfake.New(t)
	c := newClient(t, f, withRetries(-1))
	f.FailNext("GET", "/user", http.StatusInternalServerError, 1)
	if _, err := c.CurrentUserID(context.Background()); err == nil {
		t.Fatal("first call: got success, want the 500 error")
	}
	if id, err := c.CurrentUserID(context.Background()); err != nil || id != gitlabfake.DefaultUserID {
		t.Errorf("second call: got %d, %v; want %d", id, err, gitlabfake.DefaultUserID)
	}
}

func TestDeadline(t *testing.T) {
	t.Run("slow answer", func(t *testing.T) {
		f := gitlabfake.New(t)
		c := newClient(t, f)
		mustCreate(t, c, "t", "d")
		f.SetDelay(5 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.GetIssue(ctx, 1)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GetIssue: got %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("GetIssue took %s, want about 200ms", d)
		}
	})
	t.Run("retry-after past the deadline", func(t *testing.T) {
		f := gitlabfake.New(t)
		c := newClient(t, f)
		f.SetRetryAfter(30 * time.Second)
		f.FailNext("GET", "/user", http.StatusServiceUnavailable, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.CurrentUserID(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "503") {
			t.Errorf("CurrentUserID: got %v, want DeadlineExceeded and the 503", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("CurrentUserID took %s, want an immediate answer", d)
		}
		if n := f.CountRequests("GET", "/user"); n != 1 {
			t.Errorf("GET /user: got %d requests, want 1", n)
		}
	})
	t.Run("retry-after honoured", func(t *testing.T) {
		f := gitlabfake.New(t)
		c := newClient(t, f)
		f.SetRetryAfter(time.Second)
		f.FailNext("POST", "/projects/:id/issues", http.StatusTooManyRequests, 1)
		start := time.Now()
		if _, err := c.CreateIssue(context.Background(), sdesk.NewIssue{Title: "t"}); err != nil {
			t.Fatalf("CreateIssue: %v", err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("CreateIssue took %s, want at least the 1s Retry-After", d)
		}
	})
	t.Run("create timeout is not retried", func(t *testing.T) {
		f := gitlabfake.New(t)
		c := newClient(t, f)
		f.SetDelay(5 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := c.CreateIssue(ctx, sdesk.NewIssue{Title: "t", Description: "marker-77"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("CreateIssue: got %v, want DeadlineExceeded", err)
		}
		if n := f.CountRequests("POST", "/projects/:id/issues"); n != 1 {
			t.Errorf("POST issues: got %d requests, want 1", n)
		}
		// GitLab did the work: the marker search finds it.
		f.SetDelay(0)
		all, err := c.FindIssuesByMarker(context.Background(), "marker-77")
		var is sdesk.Issue
		if len(all) > 0 {
			is = all[0]
		}
		if err != nil || is.IID != 1 {
			t.Errorf("FindIssuesByMarker: got %+v, %v; want iid 1", is, err)
		}
	})
}

// faultTransport fails the first request with err, either before (sent
// false) or after (sent true) passing it on.
type faultTransport struct {
	err   error
	sent  bool
	calls atomic.Int32
}

func (ft *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if ft.calls.Add(1) > 1 {
		return http.DefaultTransport.RoundTrip(req)
	}
	if ft.sent {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	return nil, ft.err
}

func TestCreateNetworkErrors(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "refused", Addr: "x"}}
	tests := []struct {
		name      string
		err       error
		sent      bool
		wantOK    bool
		wantTries int32
	}{
		{"dial error", refused, false, true, 2},
		{"connection refused", fmt.Errorf("connect: %w", syscall.ECONNREFUSED), false, true, 2},
		{"reset after sending", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true, false, 1},
		{"unexpected EOF after sending", io.ErrUnexpectedEOF, true, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := gitlabfake.New(t)
			ft := &faultTransport{err: tt.err, sent: tt.sent}
			c := newClient(t, f, withTransport(ft))
			_, err := c.CreateIssue(context.Background(), sdesk.NewIssue{Title: "t"})
			if (err == nil) != tt.wantOK {
				t.Fatalf("CreateIssue: got %v, want success=%v", err, tt.wantOK)
			}
			if n := ft.calls.Load(); n != tt.wantTries {
				t.Errorf("attempts: got %d, want %d", n, tt.wantTries)
			}
			if n := f.CountRequests("POST", "/projects/:id/issues"); n != 1 {
				t.Errorf("POSTs reaching GitLab: got %d, want 1", n)
			}
			if n := len(f.Issues()); n != 1 {
				t.Errorf("issues: got %d, want exactly 1", n)
			}
		})
	}
	t.Run("GET retried after reset", func(t *testing.T) {
		f := gitlabfake.New(t)
		c := newClient(t, f, withTransport(&faultTransport{err: io.ErrUnexpectedEOF, sent: true}))
		if _, err := c.CurrentUserID(context.Background()); err != nil {
			t.Errorf("CurrentUserID: got %v, want success after a retry", err)
		}
	})
}

func TestDownloadUpload(t *testing.T) {
	t.Run("too large by Content-Length", func(t *testing.T) {
		f := gitlabfake.New(t)
		c := newClient(t, f)
		f.AddUpload("s", "big.bin", make([]byte, gitlab.MaxUploadSize+1))
		_, err := c.DownloadUpload(context.Background(), "s", "big.bin")
		if !errors.Is(err, gitlab.ErrTooLarge) {
			t.Errorf("got %v, want ErrTooLarge", err)
		}
		if n := len(f.Requests()); n != 1 {
			t.Errorf("got %d requests, want 1 (no retry)", n)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		f := gitlabfake.New(t)
		c := newClient(t, f)
		f.AddUpload("s", "max.txt", bytes.Repeat([]byte("a"), gitlab.MaxUploadSize))
		file, err := c.DownloadUpload(context.Background(), "s", "max.txt")
		if err != nil || len(file.Data) != gitlab.MaxUploadSize {
			t.Errorf("got %d bytes, %v; want %d bytes", len(file.Data), err, gitlab.MaxUploadSize)
		}
	})

	// A server without Content-Length, and one sending octet-stream.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/stream.bin"):
			chunk := make([]byte, 1<<20)
			for range 26 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		case strings.HasSuffix(r.URL.Path, "/doc.bin"):
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte("%PDF-1.7\n%binary"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := gitlab.NewClient(gitlab.ClientConfig{BaseURL: srv.URL, Token: "tok", Project: "1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("too large while streaming", func(t *testing.T) {
		if _, err := c.DownloadUpload(context.Background(), "s", "stream.bin"); !errors.Is(err, gitlab.ErrTooLarge) {
			t.Errorf("got %v, want ErrTooLarge", err)
		}
	})
	t.Run("sniffed content type", func(t *testing.T) {
		file, err := c.DownloadUpload(context.Background(), "s", "doc.bin")
		if err != nil || file.ContentType != "application/pdf" {
			t.Errorf("got %q, %v; want application/pdf", file.ContentType, err)
		}
	})
}

func TestRedirectDropsToken(t *testing.T) {
	var gotToken atomic.Value
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken.Store(r.Header.Get("Private-Token"))
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello"))
	}))
	defer storage.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, storage.URL+"/bucket/file.txt", http.StatusFound)
	}))
	defer api.Close()
	c, err := gitlab.NewClient(gitlab.ClientConfig{BaseURL: api.URL, Token: "secret-token", Project: "1"})
	if err != nil {
		t.Fatal(err)
	}
	file, err := c.DownloadUpload(context.Background(), "s", "file.txt")
	if err != nil || string(file.Data) != "hello" {
		t.Fatalf("DownloadUpload: got %q, %v; want hello", file.Data, err)
	}
	if tok := gotToken.Load(); tok != "" {
		t.Errorf("storage received PRIVATE-TOKEN %q, want none", tok)
	}
}

func TestGetNoteConfidentialFallback(t *testing.T) {
	tests := []struct {
		name string
		json string
		want bool
	}{
		{"internal true", `{"id":5,"body":"b","internal":true,"author":{"id":9}}`, true},
		{"old confidential true", `{"id":5,"body":"b","confidential":true,"author":{"id":9}}`, true},
		{"neither", `{"id":5,"body":"b","author":{"id":9}}`, false},
		{"both false", `{"id":5,"body":"b","internal":false,"confidential":false,"author":{"id":9}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tt.json))
			}))
			defer srv.Close()
			c, err := gitlab.NewClient(gitlab.ClientConfig{BaseURL: srv.URL, Token: "t", Project: "1"})
			if err != nil {
				t.Fatal(err)
			}
			n, err := c.GetNote(context.Background(), 1, 5)
			if err != nil || n.Internal != tt.want || n.Author.ID != 9 {
				t.Errorf("GetNote: got %+v, %v; want Internal=%v AuthorID=9", n, err, tt.want)
			}
		})
	}
}

// TestUnsafeTextRefused sends text that breaks a rule of package gfm
// through every method that carries text: each refuses it with
// ErrUnsafeText and sends nothing.
func TestUnsafeTextRefused(t *testing.T) {
	texts := []string{"/close", "hi\n  /assign me", "@all", "&#64;all", "see #12", "~bug"}
	methods := []struct {
		name string
		call func(*gitlab.Client, string) error
	}{
		{"CreateIssue title", func(c *gitlab.Client, s string) error {
			_, err := c.CreateIssue(context.Background(), sdesk.NewIssue{Title: s, Description: "fine"})
			return err
		}},
		{"CreateIssue description", func(c *gitlab.Client, s string) error {
			_, err := c.CreateIssue(context.Background(), sdesk.NewIssue{Title: "fine", Description: s})
			return err
		}},
		{"SetDescription", func(c *gitlab.Client, s string) error {
			return c.SetDescription(context.Background(), 1, s)
		}},
		{"CreateNote", func(c *gitlab.Client, s string) error {
			_, err := c.CreateNote(context.Background(), 1, s)
			return err
		}},
	}
	for _, m := range methods {
		for _, text := range texts {
			t.Run(m.name+"/"+text, func(t *testing.T) {
				f := gitlabfake.New(t)
				err := m.call(newClient(t, f), text)
				if !errors.Is(err, gitlab.ErrUnsafeText) {
					t.Errorf("%s(%q): got %v, want ErrUnsafeText", m.name, text, err)
				}
				if n := len(f.Requests()); n != 0 {
					t.Errorf("%s(%q): %d requests reached GitLab, want none", m.name, text, n)
				}
			})
		}
	}
}

// TestDefusedTextEndToEnd sends hostile Discord text built with gfm, plus
// sdesk's footer and HTML-comment marker, through every method that
// carries text. The fake runs quick actions and records mentions like
// GitLab: none may happen, and the text arrives as it was given. Sent
// without gfm, the same text does both (the control at the end).
func TestDefusedTextEndToEnd(t *testing.T) {
	hostile := "Hi @all,\n/close\n  /assign @ada\r\n```\n```\n/close\n```\n&#64;all _@all_ @\\_ada #12 group/x#7 <!--"
	name := "@everyone **x** <b>"
	title := gfm.Defuse("/close @all #1")
	desc := gfm.Quote(hostile) + "\n\n---\n\nReported from Discord by **" + gfm.Inline(name) +
		"** · [Discord thread](https://discord.com/channels/1/2)\n\n<!-- sdesk:v1 interaction=3 -->"
	note := gfm.Quote(hostile) + "\n\n— **" + gfm.Inline(name) + "** on Discord\n\n<!-- sdesk:v1 reply interaction=4 -->"

	f := gitlabfake.New(t)
	c := newClient(t, f)
	ctx := context.Background()
	is, err := c.CreateIssue(ctx, sdesk.NewIssue{Title: title, Description: desc, Confidential: true})
	if err != nil {
		t.Fatalf("CreateIssue: %v", err)
	}
	if err := c.SetDescription(ctx, is.IID, desc+"\n"); err != nil {
		t.Fatalf("SetDescription: %v", err)
	}
	if _, err := c.CreateNote(ctx, is.IID, note); err != nil {
		t.Fatalf("CreateNote: %v", err)
	}
	got, _ := f.Issue(is.IID)
	if got.State != "opened" || len(got.Assignees) != 0 {
		t.Errorf("issue: got state %q, assignees %v; want opened, none", got.State, got.Assignees)
	}
	if m := f.Mentions(); len(m) != 0 {
		t.Errorf("mentions: got %+v, want none", m)
	}
	if got.Title != title || got.Description != desc+"\n" || len(got.Notes) != 1 || got.Notes[0].Body != note {
		t.Errorf("stored texts differ from the sent ones:\ntitle %q\ndescription %q\nnotes %+v", got.Title, got.Description, got.Notes)
	}

	// Control: the fake acts on the same note without gfm.
	raw := "Hi @all,\n/close\n— **" + name + "** on Discord"
	body, _ := json.Marshal(map[string]string{"body": raw})
	req, _ := http.NewRequest(http.MethodPost, f.URL()+"/api/v4/projects/"+strconv.Itoa(f.ProjectID())+"/issues/1/notes", bytes.NewReader(body))
	req.Header.Set("PRIVATE-TOKEN", f.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, _ = f.Issue(is.IID)
	if got.State != "closed" || len(f.Mentions()) != 2 {
		t.Errorf("control: got state %q, mentions %+v; want closed, @all and @everyone", got.State, f.Mentions())
	}
}

// TestPermanentAnswers: GitLab's 401, 403, 404 and 410 are
// sdesk.PermanentError (404 and 410 also ErrNotFound), sent once; 500 and
// 503 are outages.
func TestPermanentAnswers(t *testing.T) {
	tests := []struct {
		status         int
		want, notFound bool
	}{
		{401, true, false},
		{403, true, false},
		{404, true, true},
		{410, true, true},
		{500, false, false},
		{503, false, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			f := gitlabfake.New(t)
			c := newClient(t, f)
			is, err := c.CreateIssue(context.Background(), sdesk.NewIssue{Title: "t", Description: "d"})
			if err != nil {
				t.Fatal(err)
			}
			f.FailNext("PUT", "/projects/:id/issues/:iid", tt.status, 10)
			before := len(f.Requests())
			err = c.SetState(context.Background(), is.IID, true)
			if err == nil {
				t.Fatal("SetState: got success, want an error")
			}
			if got := sdesk.IsPermanent(err); got != tt.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.want)
			}
			if got := errors.Is(err, sdesk.ErrNotFound); got != tt.notFound {
				t.Errorf("ErrNotFound: got %v, want %v", got, tt.notFound)
			}
			if sent := len(f.Requests()) - before; tt.want && sent != 1 {
				t.Errorf("requests: got %d, want 1 (no retry)", sent)
			}
		})
	}
}

// TestUploadsURL: uploads are linked in the form the GitLab serves: under
// the project's numeric ID from 17.2 on, under its path before; and under
// the ID when the version cannot be read (issue 13).
func TestUploadsURL(t *testing.T) {
	idForm := func(f *gitlabfake.Server) string { return f.URL() + "/-/project/4242" }
	pathForm := func(f *gitlabfake.Server) string { return f.URL() + "/acme/support" }
	tests := []struct {
		name    string
		version string // "-": GET /version fails with 404
		project func(*gitlabfake.Server) string
		want    func(*gitlabfake.Server) string
	}{
		{"17.5", "17.5.0", (*gitlabfake.Server).ProjectPath, idForm},
		{"17.2 pre-release", "17.2.0-pre", (*gitlabfake.Server).ProjectPath, idForm},
		{"17.10 enterprise", "17.10.1-ee", (*gitlabfake.Server).ProjectPath, idForm},
		{"18.0", "18.0.0", (*gitlabfake.Server).ProjectPath, idForm},
		{"17.5 by numeric ID", "17.5.0", func(*gitlabfake.Server) string { return "4242" }, idForm},
		{"17.1", "17.1.9", (*gitlabfake.Server).ProjectPath, pathForm},
		{"16.11 enterprise", "16.11.3-ee", (*gitlabfake.Server).ProjectPath, pathForm},
		{"16.11 by numeric ID", "16.11.3-ee", func(*gitlabfake.Server) string { return "4242" }, pathForm},
		{"9.5", "9.5.0", (*gitlabfake.Server).ProjectPath, pathForm},
		{"no version in the answer", "", (*gitlabfake.Server).ProjectPath, idForm},
		{"not a version", "latest", (*gitlabfake.Server).ProjectPath, idForm},
		{"version API refused", "-", (*gitlabfake.Server).ProjectPath, idForm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := gitlabfake.New(t)
			f.SetVersion(tt.version)
			if tt.version == "-" {
				f.FailNext("GET", "/version", http.StatusNotFound, 1)
			}
			c := newClient(t, f, withProject(tt.project(f)))
			got, err := c.UploadsURL(context.Background())
			if want := tt.want(f); got != want || err != nil {
				t.Errorf("UploadsURL with GitLab %q: got %q, %v; want %q", tt.version, got, err, want)
			}
		})
	}
}

// TestUploadsURLRelativeRoot: a GitLab under a relative URL root keeps it
// in front of either form.
func TestUploadsURLRelativeRoot(t *testing.T) {
	for _, tt := range []struct{ version, want string }{
		{"17.5.0", "/gitlab/-/project/4242"},
		{"16.11.0", "/gitlab/acme/support"},
	} {
		t.Run(tt.version, func(t *testing.T) {
			f := gitlabfake.New(t)
			f.SetVersion(tt.version)
			// The GitLab at <fake>/gitlab: the prefix is taken off on the way.
			strip := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				r = r.Clone(r.Context())
				r.URL.Path = strings.TrimPrefix(r.URL.Path, "/gitlab")
				r.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, "/gitlab")
				return http.DefaultTransport.RoundTrip(r)
			})
			c := newClient(t, f, withTransport(strip), func(cfg *gitlab.ClientConfig) { cfg.BaseURL = f.URL() + "/gitlab/" })
			got, err := c.UploadsURL(context.Background())
			if want := f.URL() + tt.want; got != want || err != nil {
				t.Errorf("UploadsURL: got %q, %v; want %q", got, err, want)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestUploadsURLOnce: the version and the project are looked up once, on
// the first call, not at construction; concurrent first calls share them.
func TestUploadsURLOnce(t *testing.T) {
	for _, version := range []string{"17.5.0", "16.11.0"} {
		t.Run(version, func(t *testing.T) {
			f := gitlabfake.New(t)
			f.SetVersion(version)
			c := newClient(t, f)
			if n := len(f.Requests()); n != 0 {
				t.Fatalf("requests before the first call: got %d, want 0", n)
			}
			var wg sync.WaitGroup
			urls := make([]string, 8)
			errs := make([]error, 8)
			for i := range urls {
				wg.Go(func() { urls[i], errs[i] = c.UploadsURL(context.Background()) })
			}
			wg.Wait()
			f.SetVersion("16.0.0")
			last, err := c.UploadsURL(context.Background())
			for i := range urls {
				if urls[i] != last || errs[i] != nil || err != nil {
					t.Errorf("call %d: got %q, %v; want %q like the last call (%v)", i, urls[i], errs[i], last, err)
				}
			}
			if n := f.CountRequests("GET", "/version"); n != 1 {
				t.Errorf("GET /version: got %d requests, want 1", n)
			}
			if n := f.CountRequests("GET", "/projects/:id"); n != 1 {
				t.Errorf("GET /projects/:id: got %d requests, want 1", n)
			}
		})
	}
}

// TestUploadsURLVersionUnreadable: a version that cannot be read (after
// the client's retries) gives the ID form, and is not asked again.
func TestUploadsURLVersionUnreadable(t *testing.T) {
	f := gitlabfake.New(t)
	c := newClient(t, f, withRetries(1))
	f.FailNext("GET", "/version", http.StatusInternalServerError, 2)
	for range 2 {
		got, err := c.UploadsURL(context.Background())
		if want := f.URL() + "/-/project/4242"; got != want || err != nil {
			t.Errorf("UploadsURL: got %q, %v; want %q", got, err, want)
		}
	}
	if n := f.CountRequests("GET", "/version"); n != 2 {
		t.Errorf("GET /version: got %d requests, want 2 (one retry, then never again)", n)
	}
}

// TestUploadsURLNotDecidedOnError: when the project cannot be looked up,
// or the caller gives up, nothing is kept: the next call completes it.
func TestUploadsURLNotDecidedOnError(t *testing.T) {
	t.Run("project look-up fails", func(t *testing.T) {
		f := gitlabfake.New(t)
		c := newClient(t, f, withRetries(-1))
		f.FailNext("GET", "/projects/:id", http.StatusBadGateway, 1)
		if got, err := c.UploadsURL(context.Background()); err == nil {
			t.Fatalf("first call: got %q, want the 502 error", got)
		}
		got, err := c.UploadsURL(context.Background())
		if want := f.URL() + "/-/project/4242"; got != want || err != nil {
			t.Errorf("second call: got %q, %v; want %q", got, err, want)
		}
		if n := f.CountRequests("GET", "/version"); n != 1 {
			t.Errorf("GET /version: got %d requests, want 1 (the version was read)", n)
		}
	})
	t.Run("path look-up fails", func(t *testing.T) {
		f := gitlabfake.New(t)
		f.SetVersion("16.11.0")
		c := newClient(t, f, withRetries(-1), withProject("4242"))
		f.FailNext("GET", "/projects/:id", http.StatusBadGateway, 1)
		if got, err := c.UploadsURL(context.Background()); err == nil {
			t.Fatalf("first call: got %q, want the 502 error", got)
		}
		got, err := c.UploadsURL(context.Background())
		if want := f.URL() + "/acme/support"; got != want || err != nil {
			t.Errorf("second call: got %q, %v; want %q", got, err, want)
		}
	})
	t.Run("caller gave up", func(t *testing.T) {
		f := gitlabfake.New(t)
		f.SetVersion("16.11.0")
		c := newClient(t, f)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if got, err := c.UploadsURL(ctx); err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call: got %q, %v; want context.Canceled", got, err)
		}
		got, err := c.UploadsURL(context.Background())
		if want := f.URL() + "/acme/support"; got != want || err != nil {
			t.Errorf("next call: got %q, %v; want %q (the version asked again, not taken as unreadable)", got, err, want)
		}
	})
}
