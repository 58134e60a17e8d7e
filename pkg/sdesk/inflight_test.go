package sdesk_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// lateCreate stands between sdesk and the GitLab fake. The first issue
// create reaches GitLab only after the client gave up on it, as a request
// in flight does when the process that sent it is killed (GitLab finishes
// what it received). landed is closed once that late create is done.
type lateCreate struct {
	once   sync.Once
	landed chan struct{}
}

func (l *lateCreate) server(t *testing.T, target string, delay time.Duration) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	l.landed = make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		late := false
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/issues") {
			l.once.Do(func() { late = true })
		}
		if !late {
			proxy.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		req := r.Clone(context.Background())
		req.RequestURI, req.Host = "", u.Host
		req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
		<-r.Context().Done() // the client gives up: the process died
		go func() {
			defer close(l.landed)
			time.Sleep(delay)
			req.Body = io.NopCloser(bytes.NewReader(body))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestInFlightCreateMakesNoSecondOpenIssue: an issue create in flight when
// the report's attempt died lands after the next attempt has made the
// issue again. The second issue is found and closed as a duplicate, with a
// note naming the kept one: whether it lands while the job still runs, or
// after it, when its "opened" webhook event arrives (issue 8: kill -9
// during the create doubled the issue).
func TestInFlightCreateMakesNoSecondOpenIssue(t *testing.T) {
	for _, tt := range []struct {
		name        string
		threadDelay time.Duration // how long the second attempt is held at the thread step
	}{
		{"lands while the job runs", 800 * time.Millisecond},
		{"lands after the job", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			late := &lateCreate{}
			gc, err := gitlab.NewClient(gitlab.ClientConfig{BaseURL: late.server(t, w.gitlab.URL(), 300*time.Millisecond), Token: w.gitlab.Token(), Project: w.gitlab.ProjectPath()})
			if err != nil {
				t.Fatal(err)
			}
			w.svc.GitLab = gc
			rep := w.submit(t, "1300000000000000030")
			actx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			if err := w.svc.RunJob(actx, rep); err == nil {
				t.Fatal("first attempt: got success, want it cut off during the create")
			}
			cancel()
			w.discord.SetDelay(tt.threadDelay)
			if err := w.svc.RunJob(ctx, rep); err != nil {
				t.Fatalf("second attempt: %v", err)
			}
			w.discord.SetDelay(0)
			<-late.landed
			issues := w.gitlab.Issues()
			if len(issues) != 2 {
				t.Fatalf("issues: got %d, want 2 (the test needs the late create to land)", len(issues))
			}
			kept, err := w.store.MappingByIssue(ctx, 1)
			if err != nil {
				t.Fatalf("mapping of the kept issue: %v", err)
			}
			if tt.threadDelay == 0 {
				// GitLab's "opened" event of the late issue.
				ev := sdesk.Event{Key: "issue:late:open", Kind: "Issue Hook", Report: rep.ID,
					Issue: &sdesk.IssueEvent{IID: 2, ID: issues[1].ID, Action: "open", State: "opened"}}
				if err := w.svc.HandleEvent(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			e2e.Eventually(t, "the late issue to close", func() bool { is, _ := w.gitlab.Issue(2); return is.State == "closed" })
			dup, _ := w.gitlab.Issue(2)
			var notes []string
			for _, n := range dup.Notes {
				if !n.System {
					notes = append(notes, n.Body)
				}
			}
			if len(notes) != 1 || !strings.Contains(notes[0], kept.IssueURL) {
				t.Errorf("duplicate's notes: got %q, want one naming %s", notes, kept.IssueURL)
			}
			if is, _ := w.gitlab.Issue(1); is.State != "opened" {
				t.Errorf("kept issue: got state %s, want opened", is.State)
			}
			if n := len(w.discord.Threads()); n != 1 {
				t.Errorf("threads: got %d, want 1", n)
			}
		})
	}
}

// TestCopiedMarkerIsNotAReport: an issue that merely carries a report's
// marker (a staff /clone of the report into a public issue) is neither
// adopted by the report nor closed as its duplicate: only confidential
// issues created by sdesk's own GitLab user are the report's.
func TestCopiedMarkerIsNotAReport(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	rep := w.submit(t, "1300000000000000080")
	if err := w.svc.RunJob(ctx, rep); err != nil {
		t.Fatal(err)
	}
	orig, _ := w.gitlab.Issue(1)
	clone, err := w.svc.GitLab.CreateIssue(ctx, sdesk.NewIssue{Title: "Tracking: crash on start", Description: "Cloned.\n\n" + orig.Description[strings.Index(orig.Description, "<!-- sdesk:v1"):], Confidential: false})
	if err != nil {
		t.Fatal(err)
	}
	ev := sdesk.Event{Key: "issue:clone:open", Kind: "Issue Hook", Report: rep.ID,
		Issue: &sdesk.IssueEvent{IID: clone.IID, ID: clone.ID, Action: "open", State: "opened"}}
	if err := w.svc.HandleEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	is, _ := w.gitlab.Issue(clone.IID)
	if is.State != "opened" || len(is.Notes) != 0 {
		t.Errorf("clone: got state %s and %d notes, want it left alone", is.State, len(is.Notes))
	}
}
