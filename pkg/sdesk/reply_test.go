package sdesk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// replyThread is the thread mapped to issue 1 by mapIssue.
const replyThread = "1500000000000000001"

// mapIssue creates issue 1 and maps it to replyThread, reported by
// reporter.
func (w *world) mapIssue(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	is, err := w.svc.GitLab.CreateIssue(ctx, sdesk.NewIssue{Title: "Crash", Description: "It crashes.", Confidential: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.PutMapping(ctx, sdesk.Mapping{IssueIID: is.IID, IssueURL: is.WebURL, ThreadID: replyThread, GuildID: guild,
		ChannelID: supportChannel, ReporterID: reporter.ID, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// TestOldReplyJobKeepsItsLinks: a reply job stored before files were
// copied carries attachment URLs ("attachments"); run after an upgrade,
// it still makes its note, with the links as it would have, and
// downloads nothing.
func TestOldReplyJobKeepsItsLinks(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.mapIssue(t)
	payload := `{"interaction_id":"1300000000000000801","token":"tok-old","channel_id":"` + replyThread + `",` +
		`"user":{"id":"` + reporter.ID + `","username":"reporter"},"iid":1,"text":"see the screenshot",` +
		`"attachments":["https://cdn.discordapp.com/attachments/1/2/shot.png?ex=1&is=2&hm=3"]}`
	now := time.Now()
	j := sdesk.Job{ID: "1300000000000000801", Kind: sdesk.JobReply, Payload: []byte(payload), Status: sdesk.JobPending, CreatedAt: now, UpdatedAt: now}
	if err := w.store.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.RunJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	is, _ := w.gitlab.Issue(1)
	if len(is.Notes) != 1 {
		t.Fatalf("notes: got %d, want 1", len(is.Notes))
	}
	body := is.Notes[0].Body
	for _, want := range []string{"> see the screenshot", "Attachment: https://cdn.discordapp.com/attachments/1/2/shot.png?ex=1&is=2&hm=3", "— **reporter** on Discord"} {
		if !strings.Contains(body, want) {
			t.Errorf("note lacks %q:\n%s", want, body)
		}
	}
	if n := len(w.discord.Requests()); n != 1 {
		t.Errorf("Discord requests: got %d, want 1 (the answer; no download)", n)
	}
}

// TestSendTakesOverALostSend: a message's record whose job was never
// stored (the process died between the two writes) holds the message
// while that job could still be stored (NeverRunAfter); after that, one
// new send takes it over and is enqueued, the others are told it is being
// sent, however many come at once.
func TestSendTakesOverALostSend(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		age      time.Duration
		takeOver bool
	}{
		{"just claimed", time.Second, false},
		{"lost", time.Minute, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.mapIssue(t)
			at := time.Now().Add(-tt.age)
			rec := sdesk.Job{ID: "message:1600000000000000001", Kind: sdesk.JobSentMessage, Status: sdesk.JobDone,
				Payload: []byte(`{"job":"1300000000000000900","iid":1}`), CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(sdesk.MessageTTL)}
			if ok, err := w.store.ClaimJob(ctx, "message:1600000000000000001", sdesk.MessageTTL, rec); !ok || err != nil {
				t.Fatalf("claim: %v, %v", ok, err)
			}
			send := func(id string) sdesk.Answer {
				a, err := w.svc.SubmitReply(ctx, sdesk.ThreadRequest{InteractionID: id, Token: "tok-" + id, ChannelID: replyThread, User: reporter,
					Text: "words", MessageID: "1600000000000000001"})
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			// Eight sends at once: one may take over, whichever.
			answers := make([]sdesk.Answer, 8)
			var wg sync.WaitGroup
			for n := range answers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					answers[n] = send(fmt.Sprint(1300000000000000910 + n))
				}()
			}
			wg.Wait()
			taker := ""
			for n, a := range answers {
				switch {
				case a.Deferred && taker == "":
					taker = fmt.Sprint(1300000000000000910 + n)
				case !a.Deferred && strings.Contains(a.Message, "being sent to GitLab right now"):
				default:
					t.Errorf("send %d: got %+v, want one taking over and the others told it is being sent", n, a)
				}
			}
			if (taker != "") != tt.takeOver {
				t.Errorf("a send took over: %v, want %v", taker != "", tt.takeOver)
			}
			w.queue.mu.Lock()
			jobs := w.queue.jobs
			w.queue.mu.Unlock()
			if tt.takeOver != (len(jobs) == 1 && jobs[0].ID == taker) || !tt.takeOver && len(jobs) != 0 {
				t.Errorf("enqueued: got %d jobs, want the taking-over send's only: %v", len(jobs), tt.takeOver)
			}
			got, _ := w.store.GetJob(ctx, "message:1600000000000000001")
			var p struct{ Job string }
			_ = json.Unmarshal(got.Payload, &p)
			if want := map[bool]string{false: "1300000000000000900", true: taker}[tt.takeOver]; p.Job != want {
				t.Errorf("record names job %s, want %s", p.Job, want)
			}
		})
	}
}

// TestSubmitReplyLimits: a reply with nothing visible, or with more files
// than MaxReplyFiles, is refused and nothing is stored; a sticker, an
// embed or a forwarded message alone is something to send.
func TestSubmitReplyLimits(t *testing.T) {
	files := make([]sdesk.Attachment, sdesk.MaxReplyFiles+1)
	for _, tt := range []struct {
		name string
		req  sdesk.ThreadRequest
		want string // "" : deferred
	}{
		{"nothing", sdesk.ThreadRequest{Text: " ", Embeds: []string{"\n"}, Forwarded: []sdesk.Shown{{Text: " "}}}, "nothing to send"},
		{"too many files", sdesk.ThreadRequest{Text: "x", Files: files}, "at most 20"},
		{"a sticker", sdesk.ThreadRequest{Stickers: []string{"wave"}}, ""},
		{"an embed", sdesk.ThreadRequest{Embeds: []string{"Build failed"}}, ""},
		{"a forward", sdesk.ThreadRequest{Forwarded: []sdesk.Shown{{Text: "words"}}}, ""},
		{"a file", sdesk.ThreadRequest{Files: files[:1]}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.mapIssue(t)
			r := tt.req
			r.InteractionID, r.Token, r.ChannelID, r.User = "1300000000000000950", "tok", replyThread, reporter
			a, err := w.svc.SubmitReply(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			w.queue.mu.Lock()
			n := len(w.queue.jobs)
			w.queue.mu.Unlock()
			if tt.want == "" && (!a.Deferred || n != 1) || tt.want != "" && (!strings.Contains(a.Message, tt.want) || n != 0) {
				t.Errorf("got %+v and %d jobs, want %q", a, n, tt.want)
			}
		})
	}
}

// TestSentMessageLinkOutlivesItsJob: the note's link is recorded in the
// message's record once the note exists, so a send long after the first
// one's job has expired still links the note and writes nothing.
func TestSentMessageLinkOutlivesItsJob(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.mapIssue(t)
	send := func(id string) sdesk.Answer {
		a, err := w.svc.SubmitReply(ctx, sdesk.ThreadRequest{InteractionID: id, Token: "tok-" + id, ChannelID: replyThread, User: reporter,
			Text: "keep me", MessageID: "1600000000000000002"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := send("1300000000000000960"); !a.Deferred {
		t.Fatalf("first send: got %+v, want deferred", a)
	}
	w.queue.mu.Lock()
	j := w.queue.jobs[0]
	w.queue.mu.Unlock()
	if err := w.svc.RunJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	done, err := w.store.GetJob(ctx, j.ID)
	if err != nil || done.Status != sdesk.JobDone {
		t.Fatalf("job: got %+v, %v, want done", done, err)
	}
	done.ExpiresAt = time.Now().Add(-time.Second) // as after JobTTL
	if err := w.store.PutJob(ctx, done); err != nil {
		t.Fatal(err)
	}
	is, _ := w.gitlab.Issue(1)
	if len(is.Notes) != 1 {
		t.Fatalf("notes: got %d, want 1", len(is.Notes))
	}
	want := fmt.Sprintf("/issues/1#note_%d>", is.Notes[0].ID)
	if a := send("1300000000000000961"); a.Deferred || !strings.Contains(a.Message, want) {
		t.Errorf("send after the job expired: got %+v, want the note's link (%s)", a, want)
	}
	w.queue.mu.Lock()
	defer w.queue.mu.Unlock()
	if len(w.queue.jobs) != 1 {
		t.Errorf("jobs: got %d, want 1", len(w.queue.jobs))
	}
}
