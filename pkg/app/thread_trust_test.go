package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// trustEnv is `sdesk serve` on bbolt with its job pool, before any
// report: GitLab already holds issues #1 to #6, so the next report is
// issue #7 (the issue of the note_plain fixture).
type trustEnv struct {
	*e2e.Env
	app *app.App
	url string
}

const trustIID = 7

func newTrustEnv(t *testing.T) *trustEnv {
	t.Helper()
	env := e2e.New(t)
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	logs := &e2e.LogBuffer{}
	a, err := app.New(context.Background(), cfg, app.Serve, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		withStore(t, cfg), app.WithTuning(func(a *app.App) {
			a.Pool.Backoff = func(int) time.Duration { return 50 * time.Millisecond }
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := a.Pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		a.Pool.Wait()
		a.Close()
		if t.Failed() {
			t.Logf("sdesk logs:\n%s", logs)
		}
	})
	for range trustIID - 1 {
		if _, err := a.GitLab.CreateIssue(ctx, sdesk.NewIssue{Title: "Older issue", Description: "Not from Discord."}); err != nil {
			t.Fatal(err)
		}
	}
	return &trustEnv{Env: env, app: a, url: srv.URL}
}

// TestReportNeverLandsInAMembersThread (issue 7, item 1): a member opens a
// thread named like the next report's thread ("#7 help pls") in the
// support channel; the report's first thread create fails, or acts and
// loses its answer. The report still ends in one new private thread of
// sdesk's own, and nothing of it, nor of later GitLab comments, reaches
// the member's thread.
func TestReportNeverLandsInAMembersThread(t *testing.T) {
	create := "/channels/" + e2e.ChannelID + "/threads"
	faults := []struct {
		name string
		arm  func(d *discordfake.Server)
		// lost: the create acts and its answer is held; a second member
		// thread is opened meanwhile (newer, so listed first by Discord),
		// then the answer is lost.
		lost bool
	}{
		{"create answered 500, nothing created", func(d *discordfake.Server) { d.FailNext("POST", create, 500, "", 1) }, false},
		{"create acted, then answered 500", func(d *discordfake.Server) { d.FailNextAfterEffect("POST", create, 500, "", 1) }, false},
		{"create acted, answer lost", func(d *discordfake.Server) { d.LoseNext("POST", create, 1) }, true},
	}
	kinds := []struct {
		name string
		typ  int
	}{{"public member thread", 11}, {"private member thread", 12}}
	for _, f := range faults {
		for _, k := range kinds {
			t.Run(f.name+"/"+k.name, func(t *testing.T) {
				h := newTrustEnv(t)
				bot := h.Discord.BotUserID()
				names := map[string]string{} // member thread ID -> name
				id := h.Discord.AddThread(e2e.ChannelID, e2e.Other.ID, "#7 help pls", k.typ)
				names[id] = "#7 help pls"
				f.arm(h.Discord)

				submit := h.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Account taken over", "description": "Someone changed my e-mail address."})
				if got := h.Interact(h.url, submit); got.Type != 5 || !got.Ephemeral() {
					t.Fatalf("submit: got %s, want a deferred ephemeral answer", got.Raw)
				}
				if f.lost {
					e2e.Eventually(t, "the thread create to be held", func() bool { return h.Discord.Held() == 1 })
					id := h.Discord.AddThread(e2e.ChannelID, e2e.Other.ID, "#7 help pls!!", k.typ)
					names[id] = "#7 help pls!!"
					if n := h.Discord.DropHeld(); n != 1 {
						t.Fatalf("dropped %d held answers, want 1", n)
					}
				}
				answer := h.ReportDone(t, submit)
				thread := e2e.ThreadOf(answer)
				if !strings.HasPrefix(answer, "Issue #7 created") || thread == "" {
					t.Fatalf("answer: got %q, want issue #7 created in a thread", answer)
				}
				if _, member := names[thread]; member {
					t.Fatalf("the report went to the member's thread %s", thread)
				}

				th, ok := h.Discord.Thread(thread)
				if !ok || th.Type != 12 || th.ParentID != e2e.ChannelID || th.OwnerID != bot {
					t.Errorf("report thread: got %+v, want private (12) under %s owned by the bot %s", th, e2e.ChannelID, bot)
				}
				if want := []string{bot, e2e.Reporter.ID}; !slices.Equal(th.Members, want) {
					t.Errorf("report thread members: got %v, want %v", th.Members, want)
				}
				if len(th.Messages) != 1 {
					t.Errorf("report thread messages: got %d, want the report's one", len(th.Messages))
				}
				var own []string
				for _, id := range h.Discord.Threads() {
					if st, _ := h.Discord.Thread(id); st.OwnerID == bot {
						own = append(own, id)
					}
				}
				if !slices.Equal(own, []string{thread}) {
					t.Errorf("threads owned by the bot: got %v, want only %s", own, thread)
				}
				for _, r := range h.Discord.Requests() {
					if r.Method == "PUT" && strings.Contains(r.Path, "/thread-members/") && r.Path != "/channels/"+thread+"/thread-members/"+e2e.Reporter.ID {
						t.Errorf("member add: got %s, want the reporter added to %s only", r.Path, thread)
					}
				}

				ctx := context.Background()
				m, err := h.app.Store.MappingByIssue(ctx, trustIID)
				if err != nil || m.ThreadID != thread || m.ReporterID != e2e.Reporter.ID {
					t.Errorf("mapping of #7: got %+v, %v, want thread %s by the reporter", m, err, thread)
				}
				issue, _ := h.GitLab.Issue(trustIID)
				if link := "https://discord.com/channels/" + e2e.GuildID + "/" + thread; !strings.Contains(issue.Description, link) {
					t.Errorf("issue description: got %q, want the link %s", issue.Description, link)
				}

				// A later GitLab comment goes to the report's thread only.
				hdr, body := fixture(t, "note_plain")
				raw, err := json.Marshal(body)
				if err != nil {
					t.Fatal(err)
				}
				if status, resp := h.Webhook(h.url, hdr.Get("X-Gitlab-Event"), raw, hdr); status != 200 {
					t.Fatalf("note webhook: got %d %s, want 200", status, resp)
				}
				if th, _ := h.Discord.Thread(thread); len(th.Messages) != 2 {
					t.Errorf("report thread messages after a note: got %d, want 2", len(th.Messages))
				}

				for id, name := range names {
					st, _ := h.Discord.Thread(id)
					if len(st.Messages) != 0 || st.Name != name || !slices.Equal(st.Members, []string{e2e.Other.ID}) {
						t.Errorf("member thread %s: got %d messages, name %q, members %v; want it untouched", id, len(st.Messages), st.Name, st.Members)
					}
					for _, r := range h.Discord.Requests() {
						if strings.Contains(r.Path, id) {
							t.Errorf("request %s %s touched the member thread", r.Method, r.Path)
						}
					}
					if _, err := h.app.Store.MappingByThread(ctx, id); !errors.Is(err, sdesk.ErrNotFound) {
						t.Errorf("mapping of member thread %s: got %v, want none", id, err)
					}
					if strings.Contains(issue.Description, id) {
						t.Errorf("issue description names the member thread %s: %q", id, issue.Description)
					}
				}
			})
		}
	}
}
