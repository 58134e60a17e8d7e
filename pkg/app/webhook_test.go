package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

const issueURL = "https://gitlab.example.com/acme/support/-/issues/7"

// hookEnv is `sdesk serve` wired on one store, with issue 7 mapped to a
// private thread.
type hookEnv struct {
	*e2e.Env
	app    *app.App
	url    string
	thread string
	logs   *e2e.LogBuffer
}

func newHookEnv(t *testing.T, store string, vars map[string]string, tune ...func(*app.App)) *hookEnv {
	t.Helper()
	env := e2e.New(t)
	if store == "dynamodb" {
		awsEnv(t, env.Vars)
	}
	for k, v := range vars {
		env.Vars[k] = v
	}
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	logs := &e2e.LogBuffer{}
	a, err := app.New(context.Background(), cfg, app.Serve, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		withStore(t, cfg), app.WithTuning(func(a *app.App) {
			a.Service.EventBudget = 3 * time.Second
			a.Pool.Backoff = func(int) time.Duration { return 100 * time.Millisecond }
			for _, f := range tune {
				f(a)
			}
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
	})
	for range 7 {
		if _, err := a.GitLab.CreateIssue(ctx, sdesk.NewIssue{Title: "Printer on fire", Description: "It burns.", Confidential: true}); err != nil {
			t.Fatal(err)
		}
	}
	thread, err := a.Discord.CreatePrivateThread(ctx, e2e.ChannelID, "#7 Printer on fire")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.PutMapping(ctx, sdesk.Mapping{IssueIID: 7, IssueURL: issueURL, ThreadID: thread, GuildID: e2e.GuildID,
		ChannelID: e2e.ChannelID, ReporterID: e2e.Reporter.ID, Title: "Printer on fire", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return &hookEnv{Env: env, app: a, url: srv.URL, thread: thread, logs: logs}
}

// fixture reads one of the project's own webhook fixtures.
// jobID is the ID of the job a delivery becomes: "gitlab:" and the
// event's identity, which ParseWebhook computes from the body.
func jobID(t *testing.T, hdr http.Header, body map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := gitlab.ParseWebhook(hdr, raw)
	if err != nil {
		t.Fatal(err)
	}
	return "gitlab:" + ev.Key
}

func fixture(t *testing.T, name string) (http.Header, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(e2e.RepoRoot(t), "pkg", "gitlab", "testdata", "hooks", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Headers map[string]string `json:"headers"`
		Body    map[string]any    `json:"body"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for k, v := range f.Headers {
		h.Set(k, v)
	}
	h.Del("X-Gitlab-Token")
	return h, f.Body
}

func (h *hookEnv) deliver(t *testing.T, header http.Header, body map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	status, resp := h.Webhook(h.url, header.Get("X-Gitlab-Event"), b, header)
	if status != 200 {
		t.Fatalf("webhook: got %d %s, want 200", status, resp)
	}
}

// calls lists the Discord calls since start, with the thread ID as {thread}.
func (h *hookEnv) calls(since int) []string {
	var out []string
	for _, r := range h.Discord.Requests()[since:] {
		out = append(out, r.Method+" "+strings.ReplaceAll(r.Path, h.thread, "{thread}"))
	}
	return out
}

func attrs(body map[string]any) map[string]any { return body["object_attributes"].(map[string]any) }

var stores = []string{"bolt", "dynamodb"}

func TestWebhookFixtures(t *testing.T) {
	post := "POST /channels/{thread}/messages"
	tests := []struct {
		fixture string
		calls   []string
		check   func(t *testing.T, h *hookEnv, th discordfake.ThreadState)
	}{
		{"note_plain", []string{post}, func(t *testing.T, h *hookEnv, th discordfake.ThreadState) {
			e := th.Messages[0].Embeds[0]
			author, _ := e["author"].(map[string]any)
			if author["name"] != "Ada Lovelace (@ada)" || !strings.Contains(fmt.Sprint(author["icon_url"]), "avatar") {
				t.Errorf("author: got %v, want Ada Lovelace (@ada) with her avatar", author)
			}
			if !strings.Contains(fmt.Sprint(e["description"]), "printer model") {
				t.Errorf("description: got %v, want the note", e["description"])
			}
		}},
		{"note_thread_start", []string{post}, nil},
		{"note_thread_reply", []string{post}, nil},
		{"note_internal", nil, nil},
		{"note_own_user", nil, nil},
		{"note_support_bot", []string{post}, func(t *testing.T, h *hookEnv, th discordfake.ThreadState) {
			d := fmt.Sprint(th.Messages[0].Embeds[0]["description"])
			if !strings.Contains(d, "Yes, that fixed it") || strings.Contains(d, "wrote:") || strings.Contains(d, "> ") {
				t.Errorf("support bot note: got %q, want the reply without the quoted email", d)
			}
		}},
		{"note_support_bot_outlook", []string{post}, func(t *testing.T, h *hookEnv, th discordfake.ThreadState) {
			d := fmt.Sprint(th.Messages[0].Embeds[0]["description"])
			if strings.Contains(d, "Original Message") || strings.Contains(d, "From:") {
				t.Errorf("outlook reply: got %q, want the quoted mail removed", d)
			}
		}},
		{"issue_open", nil, nil},
		{"issue_close", []string{post, "PATCH /channels/{thread}"}, func(t *testing.T, h *hookEnv, th discordfake.ThreadState) {
			if !th.Archived || th.Locked {
				t.Errorf("thread: got archived=%v locked=%v, want archived and not locked", th.Archived, th.Locked)
			}
			if !strings.Contains(th.Messages[0].Content, "closed by Ada Lovelace") {
				t.Errorf("message: got %q", th.Messages[0].Content)
			}
		}},
		{"issue_reopen", []string{"PATCH /channels/{thread}", post}, func(t *testing.T, h *hookEnv, th discordfake.ThreadState) {
			if th.Archived || th.Locked || !strings.Contains(th.Messages[0].Content, "reopened") {
				t.Errorf("thread: got archived=%v locked=%v %q, want open with a message", th.Archived, th.Locked, th.Messages[0].Content)
			}
		}},
		{"issue_title", []string{"PATCH /channels/{thread}", post}, func(t *testing.T, h *hookEnv, th discordfake.ThreadState) {
			if th.Name != "#7 Printer on fire (LaserJet 4)" {
				t.Errorf("thread name: got %q, want #7 Printer on fire (LaserJet 4)", th.Name)
			}
		}},
		{"issue_labels", []string{post}, func(t *testing.T, h *hookEnv, th discordfake.ThreadState) {
			if c := th.Messages[0].Content; !strings.HasPrefix(c, "🏷️ Labels: ") || strings.Count(c, "\n") != 0 {
				t.Errorf("labels: got %q, want one line", c)
			}
		}},
		{"issue_assignees", []string{post}, func(t *testing.T, h *hookEnv, th discordfake.ThreadState) {
			if c := th.Messages[0].Content; !strings.HasPrefix(c, "👤 Assignees: ") {
				t.Errorf("assignees: got %q, want one line", c)
			}
		}},
		{"issue_moved", []string{post, "PATCH /channels/{thread}"}, func(t *testing.T, h *hookEnv, th discordfake.ThreadState) {
			if c := th.Messages[0].Content; !strings.Contains(c, "moved to") || !strings.Contains(c, "91234") {
				t.Errorf("moved: got %q, want a message naming the new issue", c)
			}
		}},
	}
	for _, store := range stores {
		for _, tt := range tests {
			t.Run(store+"/"+tt.fixture, func(t *testing.T) {
				h := newHookEnv(t, store, nil)
				start := len(h.Discord.Requests())
				hdr, body := fixture(t, tt.fixture)
				h.deliver(t, hdr, body)
				got := h.calls(start)
				if strings.Join(got, "; ") != strings.Join(tt.calls, "; ") {
					t.Fatalf("Discord calls: got %v, want %v", got, tt.calls)
				}
				for _, r := range h.Discord.Requests()[start:] {
					if r.Method == "POST" && !strings.Contains(string(r.JSON), `"parse":[]`) {
						t.Errorf("message without an empty allowed_mentions parse list: %s", r.JSON)
					}
				}
				if tt.check != nil {
					th, _ := h.Discord.Thread(h.thread)
					tt.check(t, h, th)
				}
			})
		}
	}
}

func TestInternalNoteWithoutField(t *testing.T) {
	for _, internal := range []bool{true, false} {
		t.Run(fmt.Sprint("internal=", internal), func(t *testing.T) {
			h := newHookEnv(t, "bolt", nil)
			id, ok := h.GitLab.AddNote(7, 502, "Staff only: the customer is on the old plan.", internal)
			if !ok {
				t.Fatal("AddNote failed")
			}
			hdr, body := fixture(t, "note_internal_nofield")
			attrs(body)["id"] = id
			start := len(h.Discord.Requests())
			h.deliver(t, hdr, body)
			want := 0
			if !internal {
				want = 1
			}
			if got := len(h.calls(start)); got != want {
				t.Errorf("Discord calls: got %d, want %d", got, want)
			}
			if got := h.GitLab.CountRequests("GET", "/projects/:id/issues/:iid/notes/:note_id"); got != 1 {
				t.Errorf("note look-ups: got %d, want 1", got)
			}
		})
	}
	t.Run("look-up fails", func(t *testing.T) {
		h := newHookEnv(t, "bolt", nil)
		hdr, body := fixture(t, "note_internal_nofield")
		attrs(body)["id"] = 999999 // unknown to GitLab: when in doubt, do not post
		start := len(h.Discord.Requests())
		h.deliver(t, hdr, body)
		e2e.Eventually(t, "the job to fail for good", func() bool {
			failed, _ := h.app.Store.ListJobs(context.Background(), sdesk.JobFailed)
			return len(failed) == 1
		})
		if got := h.calls(start); len(got) != 0 {
			t.Errorf("Discord calls: got %v, want none", got)
		}
	})
}

func TestDuplicateDeliveries(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			hdr, body := fixture(t, "note_thread_start")
			start := len(h.Discord.Requests())
			h.deliver(t, hdr, body)
			h.deliver(t, hdr, body) // resent with the same Idempotency-Key
			hdr.Set("Idempotency-Key", "0b7a4a4e-6b2f-4c55-9a57-2d3f1c0e9d11")
			h.deliver(t, hdr, body) // executed again: a fresh key (or a group hook beside the project hook)
			hdr.Del("Idempotency-Key")
			h.deliver(t, hdr, body) // older GitLab: no header
			if got := h.calls(start); len(got) != 1 {
				t.Errorf("Discord calls: got %v, want the note posted once, whatever the delivery key", got)
			}
		})
	}
}

// crashAfterClaim stores an event's claim and job, then fails the first
// time as though the process had died right after the write.
type crashAfterClaim struct {
	sdesk.Store
	crashed atomic.Bool
}

func (c *crashAfterClaim) ClaimJob(ctx context.Context, key string, ttl time.Duration, j sdesk.Job) (bool, error) {
	won, err := c.Store.ClaimJob(ctx, key, ttl, j)
	if err == nil && won && c.crashed.CompareAndSwap(false, true) {
		return false, errors.New("process died")
	}
	return won, err
}

// flakyQueue fails its first n Enqueues or, with drop, loses those jobs
// silently (as Lambda drops an async event past its maximum age).
type flakyQueue struct {
	sdesk.Queue
	drop bool
	n    atomic.Int32
}

func (q *flakyQueue) Enqueue(ctx context.Context, j sdesk.Job) error {
	if q.n.Add(-1) >= 0 {
		if q.drop {
			return nil
		}
		return errors.New("queue down")
	}
	return q.Queue.Enqueue(ctx, j)
}

// An accepted event whose job no one holds is not lost: a resend of the
// event (GitLab's "Resend request") queues the job again, once, and only
// when no one else can still run it.
func TestResendResumesStalledEvent(t *testing.T) {
	type resend struct {
		after      time.Duration // since the first delivery
		wantStatus int
		wantPost   bool
	}
	tests := []struct {
		name       string
		crash      bool   // the process dies right after storing the event
		queue      string // "", "refuse" or "drop": what the queue does the first time
		wantStatus int
		resends    []resend
	}{
		{"stored, then the process died", true, "", http.StatusServiceUnavailable,
			[]resend{{0, 200, false}, {sdesk.NeverRunAfter + time.Second, 200, true}, {time.Hour, 200, false}}},
		// Refused twice: the resend's own hand-over fails too, and the job
		// stays orphaned for the next resend.
		{"the queue refused it", false, "refuse", http.StatusServiceUnavailable,
			[]resend{{0, http.StatusServiceUnavailable, false}, {0, 200, true}, {time.Hour, 200, false}}},
		{"the queue lost it", false, "drop", http.StatusOK,
			[]resend{{time.Minute, 200, false}, {sdesk.DefaultStallAfter + time.Second, 200, true}, {time.Hour, 200, false}}},
	}
	for _, tt := range tests {
		for _, store := range stores {
			t.Run(tt.name+"/"+store, func(t *testing.T) {
				start := time.Now()
				var offset atomic.Int64
				h := newHookEnv(t, store, nil, func(a *app.App) {
					if tt.crash {
						a.Service.Store = &crashAfterClaim{Store: a.Service.Store}
					}
					if tt.queue != "" {
						q := &flakyQueue{Queue: a.Service.Queue, drop: tt.queue == "drop"}
						q.n.Store(1)
						if tt.queue == "refuse" {
							q.n.Store(2)
						}
						a.Service.Queue = q
					}
					a.Service.Now = func() time.Time { return start.Add(time.Duration(offset.Load())) }
				})
				if tt.queue != "" {
					// The inline attempt fails at once (a 400 is not retried,
					// and, unlike a 403, is not permanent).
					h.Discord.FailNext("POST", "/channels/*/messages", 400, `{"message":"Invalid Form Body","code":50035}`, 1)
				}
				hdr, body := fixture(t, "note_thread_start")
				b, err := json.Marshal(body)
				if err != nil {
					t.Fatal(err)
				}
				posts := func() int {
					th, _ := h.Discord.Thread(h.thread)
					return len(th.Messages)
				}
				if status, resp := h.Webhook(h.url, hdr.Get("X-Gitlab-Event"), b, hdr); status != tt.wantStatus {
					t.Fatalf("first delivery: got %d %s, want %d", status, resp, tt.wantStatus)
				}
				want := 0
				for _, r := range tt.resends {
					offset.Store(int64(r.after))
					if status, resp := h.Webhook(h.url, hdr.Get("X-Gitlab-Event"), b, hdr); status != r.wantStatus {
						t.Fatalf("resend at +%v: got %d %s, want %d", r.after, status, resp, r.wantStatus)
					}
					if r.wantPost {
						want++
						e2e.Eventually(t, "the resumed job's message", func() bool { return posts() >= want })
					}
					time.Sleep(200 * time.Millisecond) // an unwanted message would come now
					if got := posts(); got != want {
						t.Fatalf("messages after a resend at +%v: got %d, want %d", r.after, got, want)
					}
				}
			})
		}
	}
}

func TestNoteEditEditsMessages(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			hdr, body := fixture(t, "note_plain")
			h.deliver(t, hdr, body)
			hdr, body = fixture(t, "note_edit")
			start := len(h.Discord.Requests())
			h.deliver(t, hdr, body)
			th, _ := h.Discord.Thread(h.thread)
			if got := h.calls(start); len(got) != 1 || !strings.HasPrefix(got[0], "PATCH /channels/{thread}/messages/") {
				t.Fatalf("Discord calls: got %v, want one message edit", got)
			}
			if len(th.Messages) != 1 || !strings.Contains(fmt.Sprint(th.Messages[0].Embeds[0]["description"]), "serial number") {
				t.Errorf("thread: got %d messages, want the one message edited to the new text", len(th.Messages))
			}
		})
	}
}

func TestLongNoteIsSplit(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			var b strings.Builder
			for i := 0; b.Len() < 9000; i++ {
				fmt.Fprintf(&b, "Line %04d of a very long comment that keeps going.\n", i)
			}
			text := strings.TrimSpace(b.String())
			hdr, body := fixture(t, "note_plain")
			attrs(body)["note"] = text
			h.deliver(t, hdr, body)
			th, _ := h.Discord.Thread(h.thread)
			if len(th.Messages) < 3 {
				t.Fatalf("messages: got %d, want 3 or more for 9000 characters", len(th.Messages))
			}
			var joined strings.Builder
			for _, m := range th.Messages {
				d := fmt.Sprint(m.Embeds[0]["description"])
				if n := len([]rune(d)); n > 4096 {
					t.Errorf("embed description: got %d characters, want ≤ 4096", n)
				}
				joined.WriteString(d)
			}
			if joined.String() != text {
				t.Errorf("text: got %d characters back, want the whole note (%d) in order", joined.Len(), len(text))
			}
			ids, err := h.app.Store.NoteMessages(context.Background(), 7, 6001)
			if err != nil || len(ids) != len(th.Messages) {
				t.Errorf("note messages: got %v, %v, want %d IDs", ids, err, len(th.Messages))
			}
		})
	}
}

func TestMentionsNeverPing(t *testing.T) {
	h := newHookEnv(t, "bolt", nil)
	hdr, body := fixture(t, "note_plain")
	attrs(body)["note"] = "@everyone @here <@&1200000000000000004> <@1210000000000000001> look at this"
	start := len(h.Discord.Requests())
	h.deliver(t, hdr, body)
	reqs := h.Discord.Requests()[start:]
	if len(reqs) != 1 {
		t.Fatalf("Discord calls: got %d, want 1", len(reqs))
	}
	var msg struct {
		AllowedMentions *struct {
			Parse []string `json:"parse"`
			Roles []string `json:"roles"`
			Users []string `json:"users"`
		} `json:"allowed_mentions"`
	}
	if err := json.Unmarshal(reqs[0].JSON, &msg); err != nil {
		t.Fatal(err)
	}
	am := msg.AllowedMentions
	if am == nil || am.Parse == nil || len(am.Parse) != 0 || len(am.Roles) != 0 || len(am.Users) != 0 {
		t.Errorf("allowed_mentions: got %s, want an empty parse list and nothing else", reqs[0].JSON)
	}
}

func TestDiscordFailures(t *testing.T) {
	t.Run("500 then success", func(t *testing.T) {
		h := newHookEnv(t, "bolt", nil)
		h.Discord.FailNext("POST", "/channels/*/messages", 500, `{"message":"500: Internal Server Error","code":0}`, 1)
		hdr, body := fixture(t, "note_plain")
		h.deliver(t, hdr, body)
		th, _ := h.Discord.Thread(h.thread)
		if len(th.Messages) != 1 {
			t.Errorf("messages: got %d, want 1", len(th.Messages))
		}
	})
	t.Run("429 retry_after honoured", func(t *testing.T) {
		h := newHookEnv(t, "bolt", nil)
		h.Discord.FailNext("POST", "/channels/*/messages", 429, `{"message":"You are being rate limited.","retry_after":0.3,"global":false}`, 1)
		hdr, body := fixture(t, "note_plain")
		h.deliver(t, hdr, body)
		var times []time.Time
		for _, r := range h.Discord.Requests() {
			if r.Method == "POST" && strings.HasSuffix(r.Path, "/messages") {
				times = append(times, r.Time)
			}
		}
		if len(times) != 2 || times[1].Sub(times[0]) < 300*time.Millisecond {
			t.Errorf("message posts: got %d, want 2 at least retry_after (0.3 s) apart", len(times))
		}
	})
	t.Run("down for the whole budget", func(t *testing.T) {
		for _, store := range stores {
			t.Run(store, func(t *testing.T) {
				h := newHookEnv(t, store, nil)
				h.Discord.SetDelay(5 * time.Second) // longer than the 3 s budget
				hdr, body := fixture(t, "note_plain")
				h.deliver(t, hdr, body) // 200 although Discord did not answer
				if !regexp.MustCompile(`"msg":"event deferred"`).MatchString(h.logs.String()) {
					t.Errorf("logs: want an event deferred line")
				}
				h.Discord.SetDelay(0)
				e2e.Eventually(t, "the deferred delivery", func() bool {
					th, _ := h.Discord.Thread(h.thread)
					return len(th.Messages) >= 1
				})
				id := jobID(t, hdr, body)
				j, err := h.app.Store.GetJob(context.Background(), id)
				e2e.Eventually(t, "the job to finish", func() bool {
					j, err = h.app.Store.GetJob(context.Background(), id)
					return err == nil && j.Status == sdesk.JobDone
				})
				th, _ := h.Discord.Thread(h.thread)
				if len(th.Messages) != 1 {
					t.Errorf("messages: got %d, want exactly 1", len(th.Messages))
				}
			})
		}
	})
}

func TestLockedThreadStillReceives(t *testing.T) {
	h := newHookEnv(t, "bolt", map[string]string{"SDESK_LOCK_ON_CLOSE": "true"})
	hdr, body := fixture(t, "issue_close")
	h.deliver(t, hdr, body)
	th, _ := h.Discord.Thread(h.thread)
	if !th.Archived || !th.Locked {
		t.Fatalf("after close: got archived=%v locked=%v, want both", th.Archived, th.Locked)
	}
	hdr, body = fixture(t, "note_plain")
	h.deliver(t, hdr, body)
	th, _ = h.Discord.Thread(h.thread)
	if len(th.Messages) != 2 || !th.Archived || !th.Locked {
		t.Errorf("after a note: got %d messages archived=%v locked=%v, want the note posted and the thread archived and locked again", len(th.Messages), th.Archived, th.Locked)
	}
}

func TestNoteUploadsAttached(t *testing.T) {
	h := newHookEnv(t, "bolt", nil)
	const secret = "0123456789abcdef0123456789abcdef"
	png := []byte("\x89PNG\r\n\x1a\nfake image bytes")
	h.GitLab.AddUpload(secret, "screenshot.png", png)
	hdr, body := fixture(t, "note_plain")
	attrs(body)["note"] = "See ![screenshot](/uploads/" + secret + "/screenshot.png) and [the log](/uploads/ffffffffffffffffffffffffffffffff/missing.log)."
	h.deliver(t, hdr, body)
	th, _ := h.Discord.Thread(h.thread)
	if len(th.Messages) != 1 {
		t.Fatalf("messages: got %d, want 1", len(th.Messages))
	}
	m := th.Messages[0]
	if len(m.Files) != 1 || m.Files[0].Name != "screenshot.png" || string(m.Files[0].Data) != string(png) {
		t.Errorf("files: got %d, want screenshot.png with its bytes (the missing upload stays a link)", len(m.Files))
	}
	d := fmt.Sprint(m.Embeds[0]["description"])
	// GitLab 17.2+ (the fake says 17.5) serves uploads under the project's ID.
	for _, want := range []string{h.GitLab.URL() + "/-/project/4242/uploads/" + secret + "/screenshot.png", h.GitLab.URL() + "/-/project/4242/uploads/ffffffffffffffffffffffffffffffff/missing.log"} {
		if !strings.Contains(d, want) {
			t.Errorf("description: got %q, want the absolute link %s", d, want)
		}
	}
}

// withStore opens the bbolt file for the bolt configurations, as `sdesk
// serve` does; DynamoDB is opened by app.New itself.
func withStore(t testing.TB, cfg config.Config) app.Option {
	if cfg.Store != config.StoreBolt {
		return app.WithTuning(func(*app.App) {})
	}
	st, err := bolt.Open(cfg.BoltPath)
	if err != nil {
		t.Fatal(err)
	}
	return app.WithStore(st)
}

// TestRenameArchivedThread: a title change on a closed issue renames its
// archived thread (Discord refuses to rename an archived thread unless it is
// unarchived in the same or an earlier edit).
func TestRenameArchivedThread(t *testing.T) {
	h := newHookEnv(t, "bolt", nil)
	hdr, body := fixture(t, "issue_close")
	h.deliver(t, hdr, body)
	hdr, body = fixture(t, "issue_title")
	h.deliver(t, hdr, body)
	th, _ := h.Discord.Thread(h.thread)
	if th.Name != "#7 Printer on fire (LaserJet 4)" {
		t.Errorf("thread: got %q, want it renamed", th.Name)
	}
	if len(th.Messages) != 2 {
		t.Errorf("messages: got %d, want the close and the title line", len(th.Messages))
	}
}

// TestMovedNamesTheNewIssue: a move names the new issue by reference and
// link, looked up by the global ID the hook carries.
func TestMovedNamesTheNewIssue(t *testing.T) {
	h := newHookEnv(t, "bolt", nil)
	target, err := h.app.GitLab.CreateIssue(context.Background(), sdesk.NewIssue{Title: "Printer on fire (moved)"})
	if err != nil {
		t.Fatal(err)
	}
	hdr, body := fixture(t, "issue_moved")
	body["changes"].(map[string]any)["moved_to_id"] = map[string]any{"previous": nil, "current": target.ID}
	h.deliver(t, hdr, body)
	th, _ := h.Discord.Thread(h.thread)
	want := "acme/support#" + fmt.Sprint(target.IID) + " (<" + target.WebURL + ">)"
	if len(th.Messages) != 1 || !strings.Contains(th.Messages[0].Content, want) {
		t.Errorf("messages: got %v, want one naming %s", th.Messages, want)
	}
}

// TestHostileGitLabTextIntoDiscord: names, titles, labels and notes from
// GitLab reach the thread as text that shows what it is: no mention, link,
// header, quote, spoiler or emphasis of their own, and every link target
// visible (issue 7, item 6). Driven through the real handler into the
// Discord fake.
func TestHostileGitLabTextIntoDiscord(t *testing.T) {
	const (
		zwsp   = "\u200b"
		secret = "0123456789abcdef0123456789abcdef"
		name   = "@everyone [x](https://example.test) <@&1200000000000000004> # Staff_\u202Eevil"
		title  = "`@here` ||spoiler|| <t:0:R> [login](https://evil.example)"
	)
	// name as DiscordText shows it in content: escaped, one line, the
	// bidirectional override removed.
	nameText := "@" + zwsp + `everyone \[x\](https://example.test) \<@&1200000000000000004\> # Staff\_evil`
	titleText := "\\`@" + zwsp + `here\` + "`" + ` \|\|spoiler\|\| \<t:0:R\> \[login\](https://evil.example)`
	h := newHookEnv(t, "bolt", nil)
	h.GitLab.AddUpload(secret, "screenshot.png", []byte("\x89PNG\r\n\x1a\nimage"))
	user := map[string]any{"id": 501, "name": name, "username": "ada", "avatar_url": "https://gitlab.example.com/a.png"}
	delivery := 0
	send := func(fixtureName string, edit func(body map[string]any)) discordfake.Message {
		t.Helper()
		hdr, body := fixture(t, fixtureName)
		delivery++
		hdr.Set("Idempotency-Key", fmt.Sprintf("hostile-%d", delivery))
		body["user"] = user
		attrs(body)["updated_at"] = fmt.Sprintf("2024-06-01T10:%02d:00Z", delivery)
		edit(body)
		before := len(h.Discord.Messages(h.thread))
		start := len(h.Discord.Requests())
		h.deliver(t, hdr, body)
		for _, r := range h.Discord.Requests()[start:] {
			if r.Method == "POST" && !strings.Contains(string(r.JSON), `"parse":[]`) {
				t.Errorf("%s: message without an empty allowed_mentions parse list: %s", fixtureName, r.JSON)
			}
		}
		msgs := h.Discord.Messages(h.thread)
		if len(msgs) != before+1 {
			t.Fatalf("%s: got %d new messages, want 1", fixtureName, len(msgs)-before)
		}
		return msgs[len(msgs)-1]
	}
	label := func(title string) map[string]any { return map[string]any{"id": len(title), "title": title} }
	labelList := func(titles ...string) []any {
		out := make([]any, len(titles))
		for i, l := range titles {
			out[i] = label(l)
		}
		return out
	}

	t.Run("title", func(t *testing.T) {
		m := send("issue_title", func(body map[string]any) {
			body["changes"].(map[string]any)["title"] = map[string]any{"previous": "Printer on fire", "current": title}
			attrs(body)["title"] = title
		})
		if want := "✏️ Title changed to **" + titleText + "**."; m.Content != want {
			t.Errorf("content\ngot  %q,\nwant %q", m.Content, want)
		}
		// A thread name shows no markdown: it carries the title as is.
		if th, _ := h.Discord.Thread(h.thread); th.Name != "#7 "+title {
			t.Errorf("thread name: got %q, want %q", th.Name, "#7 "+title)
		}
	})
	t.Run("labels", func(t *testing.T) {
		m := send("issue_labels", func(body map[string]any) {
			body["changes"].(map[string]any)["labels"] = map[string]any{
				"previous": labelList("discord", "||old||"),
				"current":  labelList("discord", "-# small", "> quote"),
			}
		})
		if want := `🏷️ Labels: discord, \-# small, \> quote (added \-# small, \> quote; removed \|\|old\|\|)`; m.Content != want {
			t.Errorf("content\ngot  %q,\nwant %q", m.Content, want)
		}
	})
	t.Run("assignees", func(t *testing.T) {
		m := send("issue_assignees", func(body map[string]any) {
			body["changes"].(map[string]any)["assignees"] = map[string]any{
				"previous": []any{map[string]any{"id": 502, "name": "Grace Hopper", "username": "grace"}},
				"current":  []any{map[string]any{"id": 502, "name": "Grace Hopper", "username": "grace"}, user},
			}
		})
		if want := "👤 Assignees: Grace Hopper, " + nameText + " (added " + nameText + ")"; m.Content != want {
			t.Errorf("content\ngot  %q,\nwant %q", m.Content, want)
		}
	})
	t.Run("note", func(t *testing.T) {
		m := send("note_plain", func(body map[string]any) {
			attrs(body)["note"] = "Please log in [here](https://evil.example/login) or <a href=\"https://evil.example/a\">at your bank</a>.\n" +
				"[https://bank.example](https://evil.example/b) <@&1200000000000000004> ||hidden||\n" +
				"-# small print\n" +
				"![screenshot](/uploads/" + secret + "/screenshot.png)"
		})
		if len(m.Embeds) != 1 {
			t.Fatalf("embeds: got %d, want 1", len(m.Embeds))
		}
		e := m.Embeds[0]
		wantDesc := "Please log in here (<https://evil.example/login>) or at your bank (<https://evil.example/a>).\n" +
			`https://bank.example (<https://evil.example/b>) \<@&1200000000000000004> \|\|hidden\|\|` + "\n" +
			`\-# small print` + "\n" +
			"[screenshot.png](" + h.GitLab.URL() + "/-/project/4242/uploads/" + secret + "/screenshot.png)"
		if got := fmt.Sprint(e["description"]); got != wantDesc {
			t.Errorf("description\ngot  %q,\nwant %q", got, wantDesc)
		}
		// Discord shows an author name as plain text: it stays as GitLab
		// has it, on one line, without the override that would flip
		// " (@ada)".
		author, _ := e["author"].(map[string]any)
		if want := strings.ReplaceAll(name, "\u202E", "") + " (@ada)"; author["name"] != want {
			t.Errorf("author name: got %q, want %q", author["name"], want)
		}
		if len(m.Files) != 1 || m.Files[0].Name != "screenshot.png" {
			t.Errorf("files: got %d, want screenshot.png attached", len(m.Files))
		}
	})
	t.Run("close", func(t *testing.T) {
		m := send("issue_close", func(map[string]any) {})
		if want := "🔒 Issue #7 was closed by " + nameText + "."; m.Content != want {
			t.Errorf("content\ngot  %q,\nwant %q", m.Content, want)
		}
	})
}

// TestProjectMatchedByID: events are matched to GITLAB_PROJECT by the
// project's numeric ID, resolved once on the first webhook, so a project
// renamed or moved to another group keeps working; another project's
// events stay ignored, logged with both IDs (issue 13).
func TestProjectMatchedByID(t *testing.T) {
	h := newHookEnv(t, "bolt", nil)
	if n := h.GitLab.CountRequests("GET", "/projects/:id"); n != 0 {
		t.Errorf("project look-ups before any webhook: got %d, want 0", n)
	}
	for _, tt := range []struct {
		name      string
		id        float64
		path      string
		wantPosts int
	}{
		{"renamed", 4242, "acme/support-desk", 1},
		{"moved to another group", 4242, "acme-support/app", 1},
		{"another project with the old path", 999, "acme/support", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr, body := fixture(t, "note_plain")
			attrs := body["object_attributes"].(map[string]any)
			attrs["id"] = float64(7000 + len(tt.name)) // a new note each time
			attrs["project_id"] = tt.id
			body["project_id"] = tt.id
			body["project"].(map[string]any)["id"] = tt.id
			body["project"].(map[string]any)["path_with_namespace"] = tt.path
			before := len(h.Discord.Messages(h.thread))
			h.deliver(t, hdr, body)
			if got := len(h.Discord.Messages(h.thread)) - before; got != tt.wantPosts {
				t.Errorf("messages: got %d, want %d", got, tt.wantPosts)
			}
		})
	}
	if n := h.GitLab.CountRequests("GET", "/projects/:id"); n != 1 {
		t.Errorf("project look-ups: got %d, want 1 (kept after the first)", n)
	}
	if !strings.Contains(h.logs.String(), "project 999 (acme/support) is not GITLAB_PROJECT acme/support (ID 4242)") {
		t.Errorf("logs: want the ignored event named with both IDs")
	}
}
