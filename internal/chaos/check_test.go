package chaos_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/chaos"
	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// serveInProcess wires sdesk serve on bbolt in this process and returns
// its URL and a stop function that returns its unfinished jobs.
func serveInProcess(t *testing.T, env *e2e.Env) (string, func() *chaos.Jobs) {
	t.Helper()
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(cfg.BoltPath)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Serve, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.WithStore(st),
		app.WithTuning(func(a *app.App) { a.Pool.Backoff = func(int) time.Duration { return 100 * time.Millisecond } }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := a.Pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	stopped := false
	var jobs *chaos.Jobs
	stop := func() *chaos.Jobs {
		if stopped {
			return jobs
		}
		stopped = true
		srv.Close()
		cancel()
		a.Pool.Wait()
		pending, err1 := st.ListJobs(context.Background(), sdesk.JobPending)
		failed, err2 := st.ListJobs(context.Background(), sdesk.JobFailed)
		if err1 != nil || err2 != nil {
			t.Errorf("list jobs: %v %v", err1, err2)
		}
		jobs = &chaos.Jobs{Pending: pending, Failed: failed}
		a.Close()
		return jobs
	}
	t.Cleanup(func() { stop() })
	return srv.URL, stop
}

// clone deep-copies a snapshot (every field is plain data).
func clone(t *testing.T, s chaos.Snapshot) chaos.Snapshot {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var c chaos.Snapshot
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	noteTokRE = regexp.MustCompile(`Note (N\d{4})`)
	editRE    = regexp.MustCompile(`Note (N\d{4}) \((E\d{4})\)`)
)

func description(m discordfake.Message) string {
	if len(m.Embeds) == 0 {
		return ""
	}
	d, _ := m.Embeds[0]["description"].(string)
	return d
}

// TestCheckFindsViolations runs a small calm plan through a real sdesk,
// then breaks the resulting state in each way the checks must notice: each
// broken state must add a violation that the untouched state does not have.
func TestCheckFindsViolations(t *testing.T) {
	env := e2e.New(t)
	url, stop := serveInProcess(t, env)
	plan := chaos.NewPlan(5, 40)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := chaos.Run(ctx, chaos.Config{Plan: plan, Env: env, Target: chaos.HTTPTarget{URL: func() string { return url }},
		Workers: 3, Wait: 20 * time.Second, Settle: 5 * time.Second})
	jobs := stop()
	base := chaos.Capture(env, w)
	base.Jobs = jobs
	baseline := w.Check(base)
	known := map[string]bool{}
	for _, v := range baseline.Violations {
		known[v.What] = true
	}
	clean := func(tok string) bool {
		for _, v := range baseline.Violations {
			if strings.Contains(v.What, tok) {
				return false
			}
		}
		return true
	}

	// Targets in the untouched state: a thread with two clean note
	// messages, a clean edited note, a reply's note, a closed issue.
	var thread, other int = -1, -1
	var noteMsg, noteMsg2 int
	for i, th := range base.Threads {
		var idx []int
		for j, m := range th.Messages {
			if s := noteTokRE.FindStringSubmatch(description(m)); s != nil && clean(s[1]) {
				idx = append(idx, j)
			}
		}
		if len(idx) >= 2 && thread < 0 {
			thread, noteMsg, noteMsg2 = i, idx[0], idx[1]
		} else if other < 0 {
			other = i
		}
	}
	if thread < 0 || other < 0 {
		t.Fatalf("plan %d gave no thread with two clean notes and another thread; pick another seed\n%s", plan.Seed, w.Report(baseline))
	}
	edited, editedMsg := -1, -1
	for i, th := range base.Threads {
		for j, m := range th.Messages {
			if s := editRE.FindStringSubmatch(description(m)); s != nil && clean(s[1]) && edited < 0 {
				edited, editedMsg = i, j
			}
		}
	}
	replyIssue, replyNote := -1, -1
	closedIssue := -1
	for i, is := range base.Issues {
		for j, n := range is.Notes {
			if strings.Contains(n.Body, "Reply R") && replyIssue < 0 {
				replyIssue, replyNote = i, j
			}
		}
		if is.State == "closed" && closedIssue < 0 {
			closedIssue = i
		}
	}
	if edited < 0 || replyIssue < 0 || closedIssue < 0 {
		t.Fatalf("plan %d lacks a clean edited note (%d), a reply (%d) or a closed issue (%d); pick another seed", plan.Seed, edited, replyIssue, closedIssue)
	}
	noteTok := noteTokRE.FindStringSubmatch(description(base.Threads[thread].Messages[noteMsg]))[1]
	firstToken := func(s *chaos.Snapshot) string {
		for k, m := range s.Answers {
			if strings.HasPrefix(m.Content, "Issue #") {
				return k
			}
		}
		return ""
	}

	tests := []struct {
		name   string
		break_ func(s *chaos.Snapshot)
		want   string // in a new violation; "" for a change that breaks nothing
	}{
		{"note posted twice", func(s *chaos.Snapshot) {
			th := &s.Threads[thread]
			th.Messages = append(th.Messages, th.Messages[noteMsg])
		}, noteTok + " posted 2 times"},
		{"note lost", func(s *chaos.Snapshot) {
			th := &s.Threads[thread]
			th.Messages = slices.Delete(th.Messages, noteMsg, noteMsg+1)
		}, noteTok + " never reached"},
		{"note in another thread too", func(s *chaos.Snapshot) {
			s.Threads[other].Messages = append(s.Threads[other].Messages, s.Threads[thread].Messages[noteMsg])
		}, noteTok + " also posted in thread " + base.Threads[other].ID},
		{"notes out of order", func(s *chaos.Snapshot) {
			m := s.Threads[thread].Messages
			m[noteMsg], m[noteMsg2] = m[noteMsg2], m[noteMsg]
		}, "messages in the order"},
		{"old text of an edited note", func(s *chaos.Snapshot) {
			e := s.Threads[edited].Messages[editedMsg].Embeds[0]
			e["description"] = editRE.ReplaceAllString(e["description"].(string), "Note $1")
		}, "shows version"},
		{"note under another name", func(s *chaos.Snapshot) {
			s.Threads[thread].Messages[noteMsg].Embeds[0]["author"] = map[string]any{"name": "Someone Else"}
		}, "is shown as by \"Someone Else\""},
		{"internal note leaked", func(s *chaos.Snapshot) {
			s.Threads[other].Messages = append(s.Threads[other].Messages, discordfake.Message{Content: "Internal I0999: secret"})
		}, "internal note I0999"},
		{"own note echoed", func(s *chaos.Snapshot) {
			s.Threads[other].Messages = append(s.Threads[other].Messages, discordfake.Message{Embeds: []map[string]any{{"description": "Reply R0999: hi"}}})
		}, "own note (reply R0999)"},
		{"stray message", func(s *chaos.Snapshot) {
			s.Threads[other].Messages = append(s.Threads[other].Messages, discordfake.Message{Content: "hello"})
		}, `unexpected message in thread ` + base.Threads[other].ID + `: "hello"`},
		{"extra close line", func(s *chaos.Snapshot) {
			s.Threads[other].Messages = append(s.Threads[other].Messages,
				discordfake.Message{Content: "🔒 Issue #1 was closed by x."}, discordfake.Message{Content: "🔒 Issue #1 was closed by x."},
				discordfake.Message{Content: "🔒 Issue #1 was closed by x."})
		}, "extra close#3"},
		{"first message twice", func(s *chaos.Snapshot) {
			th := &s.Threads[thread]
			for _, m := range th.Messages {
				if strings.Contains(m.Content, "new report from") {
					th.Messages = append(th.Messages, m)
					break
				}
			}
		}, "2 first messages"},
		{"message in the support channel", func(s *chaos.Snapshot) {
			s.Channel = append(s.Channel, discordfake.Message{Content: "oops"})
		}, "support channel"},
		{"reporter not in thread", func(s *chaos.Snapshot) {
			s.Threads[thread].Members = s.Threads[thread].Members[:1]
		}, "is not a member of thread " + base.Threads[thread].ID},
		{"second thread", func(s *chaos.Snapshot) {
			th := s.Threads[thread]
			th.ID = "1999999999999999999"
			s.Threads = append(s.Threads, th)
		}, "2 threads, want 1"},
		{"stray thread", func(s *chaos.Snapshot) {
			s.Threads = append(s.Threads, discordfake.ThreadState{ID: "1888888888888888888", Name: "#999 nobody"})
		}, "thread 1888888888888888888 \"#999 nobody\" belongs to no report"},
		{"second open issue", func(s *chaos.Snapshot) {
			is := s.Issues[closedIssue]
			is.IID, is.State, is.Notes = 999, "opened", nil
			s.Issues = append(s.Issues, is)
		}, "second open issue #999"},
		{"second issue closed as a duplicate", func(s *chaos.Snapshot) {
			is := s.Issues[closedIssue]
			is.IID, is.State, is.Notes = 999, "closed", nil
			s.Issues = append(s.Issues, is)
		}, ""},
		{"issue lost", func(s *chaos.Snapshot) {
			s.Issues = slices.Delete(s.Issues, closedIssue, closedIssue+1)
		}, "no GitLab issue"},
		{"issue reopened behind our back", func(s *chaos.Snapshot) {
			s.Issues[closedIssue].State = "opened"
		}, "is opened, want closed"},
		{"reply posted twice", func(s *chaos.Snapshot) {
			is := &s.Issues[replyIssue]
			is.Notes = append(is.Notes, is.Notes[replyNote])
		}, "made 2 notes"},
		{"answer is an apology", func(s *chaos.Snapshot) {
			tok := firstToken(s)
			s.Answers[tok] = discordfake.Message{Content: "Sorry, that did not work."}
		}, `answered "Sorry, that did not work."`},
		{"answer never edited", func(s *chaos.Snapshot) {
			delete(s.Answers, firstToken(s))
		}, "its deferred answer was never edited"},
		{"job left pending", func(s *chaos.Snapshot) {
			s.Jobs.Pending = append(s.Jobs.Pending, sdesk.Job{ID: "j-pending", Kind: sdesk.JobReply})
		}, "job j-pending (reply) left pending"},
		{"job failed", func(s *chaos.Snapshot) {
			s.Jobs.Failed = append(s.Jobs.Failed, sdesk.Job{ID: "j-failed", Kind: sdesk.JobReport, ErrorRef: "EREF"})
		}, "job j-failed (report) failed for good (EREF)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := clone(t, base)
			tt.break_(&s)
			var added []string
			for _, v := range w.Check(s).Violations {
				if !known[v.What] {
					added = append(added, v.What)
				}
			}
			if tt.want == "" {
				if len(added) > 0 {
					t.Errorf("got new violations %q, want none", added)
				}
				return
			}
			found := false
			for _, a := range added {
				found = found || strings.Contains(a, tt.want)
			}
			if !found {
				t.Errorf("new violations: got %q, want one containing %q", added, tt.want)
			}
		})
	}
	if t.Failed() {
		t.Logf("untouched state:\n%s", w.Report(baseline))
	}
}
