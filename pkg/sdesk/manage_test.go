package sdesk_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

const staffRole = "1230000000000000009"

var (
	staffer = sdesk.User{ID: "1210000000000000009", Username: "staff", RoleIDs: []string{staffRole}}
	other   = sdesk.User{ID: "1210000000000000002", Username: "other"}
)

var interactions struct {
	sync.Mutex
	n int
}

func nextID() string {
	interactions.Lock()
	defer interactions.Unlock()
	interactions.n++
	return fmt.Sprintf("14%017d", interactions.n)
}

// reportAs makes a report of u through the whole flow and returns its
// mapping.
func (w *world) reportAs(t *testing.T, u sdesk.User, title string) sdesk.Mapping {
	t.Helper()
	ctx := context.Background()
	id := nextID()
	if err := w.svc.SubmitReport(ctx, sdesk.ReportRequest{InteractionID: id, Token: "tok-" + id, GuildID: guild, User: u, Title: title, Description: "It broke."}); err != nil {
		t.Fatalf("SubmitReport(%q): %v", title, err)
	}
	w.runAll(t)
	job, err := w.store.GetJob(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := job.Step("issue")
	iid, _ := strconv.Atoi(strings.SplitN(v, " ", 2)[0])
	m, err := w.store.MappingByIssue(ctx, iid)
	if err != nil {
		t.Fatalf("mapping of report %q (step issue %q): %v", title, v, err)
	}
	return m
}

// runAll runs every queued job once, in order, and empties the queue.
func (w *world) runAll(t *testing.T) {
	t.Helper()
	w.queue.mu.Lock()
	jobs := w.queue.jobs
	w.queue.jobs = nil
	w.queue.mu.Unlock()
	for _, j := range jobs {
		if err := w.svc.RunJob(context.Background(), j); err != nil {
			t.Fatalf("job %s (%s): %v", j.ID, j.Kind, err)
		}
	}
}

// userNotes are an issue's notes that are not system notes.
func userNotes(is gitlabfake.Issue) []gitlabfake.Note {
	var out []gitlabfake.Note
	for _, n := range is.Notes {
		if !n.System {
			out = append(out, n)
		}
	}
	return out
}

func userMessage(err error) string {
	var ue *sdesk.UserError
	if errors.As(err, &ue) {
		return ue.Message
	}
	return ""
}

func inThread(u sdesk.User, m sdesk.Mapping) sdesk.ThreadRequest {
	id := nextID()
	return sdesk.ThreadRequest{InteractionID: id, Token: "tok-" + id, ChannelID: m.ThreadID, User: u}
}

func outside(u sdesk.User, iid int) sdesk.ThreadRequest {
	id := nextID()
	return sdesk.ThreadRequest{InteractionID: id, Token: "tok-" + id, ChannelID: supportChannel, User: u, Issue: iid}
}

func TestOpenReportsLimit(t *testing.T) {
	w := newWorld(t)
	w.svc.StaffRoleID, w.svc.MaxOpenReports = staffRole, 2
	ctx := context.Background()
	a := w.reportAs(t, reporter, "First")
	b := w.reportAs(t, reporter, "Second *bold* <@&1>")

	err := w.svc.CheckReport(ctx, reporter)
	msg := userMessage(err)
	for _, want := range []string{"You have 2 open reports", "#" + strconv.Itoa(a.IssueIID), "<#" + b.ThreadID + ">", `Second \*bold\*`} {
		if !strings.Contains(msg, want) {
			t.Errorf("CheckReport over the limit: got %q (%v), want it to hold %q", msg, err, want)
		}
	}
	if strings.Contains(msg, "<@&1>") {
		t.Errorf("CheckReport: got %q, want the title's role mention defused", msg)
	}
	id := nextID()
	err = w.svc.SubmitReport(ctx, sdesk.ReportRequest{InteractionID: id, Token: "t", GuildID: guild, User: reporter, Title: "Third", Description: "x"})
	if userMessage(err) == "" {
		t.Errorf("SubmitReport over the limit: got %v, want a refusal", err)
	}
	if _, err := w.store.GetJob(ctx, id); !errors.Is(err, sdesk.ErrNotFound) {
		t.Errorf("refused report: got job %v, want none stored", err)
	}
	// Staff are exempt, and other members have their own count.
	for _, u := range []sdesk.User{staffer, other} {
		if err := w.svc.CheckReport(ctx, u); err != nil {
			t.Errorf("CheckReport(%s): got %v, want nil", u.Username, err)
		}
	}
	// Closed in GitLab with its webhook lost: GitLab's word counts.
	w.gitlab.EditIssue(a.IssueIID, func(is *gitlabfake.Issue) { is.State = "closed" })
	if err := w.svc.CheckReport(ctx, reporter); err != nil {
		t.Errorf("CheckReport after a report closed in GitLab: got %v, want nil", err)
	}
	if m, _ := w.store.MappingByIssue(ctx, a.IssueIID); m.State != sdesk.StateClosed {
		t.Errorf("state of the closed report: got %q, want closed (learned from GitLab)", m.State)
	}
}

func TestReportsBeingMadeCount(t *testing.T) {
	w := newWorld(t)
	w.svc.MaxOpenReports = 2
	ctx := context.Background()
	w.reportAs(t, reporter, "Made")
	id := nextID()
	if err := w.svc.SubmitReport(ctx, sdesk.ReportRequest{InteractionID: id, Token: "t", GuildID: guild, User: reporter, Title: "Pending", Description: "x"}); err != nil {
		t.Fatal(err)
	}
	// Its job has not run: no mapping yet, but it counts.
	err := w.svc.CheckReport(ctx, reporter)
	if msg := userMessage(err); !strings.Contains(msg, "1 being made right now") {
		t.Errorf("CheckReport with a report being made: got %q (%v), want it counted", msg, err)
	}
	// A replay of the pending report's own submit is not refused.
	if err := w.svc.SubmitReport(ctx, sdesk.ReportRequest{InteractionID: id, Token: "t", GuildID: guild, User: reporter, Title: "Pending", Description: "x"}); err != nil {
		t.Errorf("replayed submit: got %v, want nil", err)
	}
}

func TestReportCooldown(t *testing.T) {
	w := newWorld(t)
	w.svc.StaffRoleID, w.svc.ReportCooldown = staffRole, time.Hour
	ctx := context.Background()
	first := nextID()
	submit := func(id string, u sdesk.User) error {
		return w.svc.SubmitReport(ctx, sdesk.ReportRequest{InteractionID: id, Token: "t", GuildID: guild, User: u, Title: "T", Description: "D"})
	}
	if err := submit(first, reporter); err != nil {
		t.Fatal(err)
	}
	if err := submit(first, reporter); err != nil {
		t.Errorf("replay of the first report: got %v, want nil", err)
	}
	err := submit(nextID(), reporter)
	if msg := userMessage(err); !strings.Contains(msg, "You can make another one <t:") {
		t.Errorf("second report within the cooldown: got %q (%v), want a refusal with the time", msg, err)
	}
	if msg := userMessage(w.svc.CheckReport(ctx, reporter)); msg == "" {
		t.Errorf("CheckReport within the cooldown: got no refusal")
	}
	for _, u := range []sdesk.User{staffer, other} {
		if err := submit(nextID(), u); err != nil {
			t.Errorf("report of %s: got %v, want nil", u.Username, err)
		}
	}
	if err := submit(nextID(), staffer); err != nil {
		t.Errorf("second report of staff: got %v, want nil (exempt)", err)
	}
}

func TestReportCooldownConcurrent(t *testing.T) {
	w := newWorld(t)
	w.svc.ReportCooldown = time.Hour
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed, refused := 0, 0
	for range 8 {
		wg.Go(func() {
			id := nextID()
			err := w.svc.SubmitReport(context.Background(), sdesk.ReportRequest{InteractionID: id, Token: "t", GuildID: guild, User: reporter, Title: "T", Description: "D"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				passed++
			case userMessage(err) != "":
				refused++
			default:
				t.Errorf("submit: %v", err)
			}
		})
	}
	wg.Wait()
	if passed != 1 || refused != 7 {
		t.Errorf("8 reports at once: got %d stored and %d refused, want 1 and 7", passed, refused)
	}
}

func TestCloseWithReasonAndReopen(t *testing.T) {
	w := newWorld(t)
	w.svc.StaffRoleID = staffRole
	ctx := context.Background()
	m := w.reportAs(t, reporter, "Jams")

	// Someone else may not, from inside or outside the thread.
	for _, r := range []sdesk.ThreadRequest{inThread(other, m), outside(other, m.IssueIID)} {
		if _, err := w.svc.SubmitClose(ctx, r); !strings.Contains(userMessage(err), "Only the reporter or staff") {
			t.Errorf("close by a bystander: got %v, want a refusal", err)
		}
		if _, err := w.svc.SubmitReopen(ctx, r); !strings.Contains(userMessage(err), "Only the reporter or staff") {
			t.Errorf("reopen by a bystander: got %v, want a refusal", err)
		}
	}
	if _, err := w.svc.SubmitClose(ctx, outside(reporter, 0)); !strings.Contains(userMessage(err), "`issue` option") {
		t.Errorf("close outside a thread without an issue: got %v, want the option named", err)
	}
	// An issue not made in Discord: staff are told so; a member gets the
	// refusal they get for someone else's report, so numbers tell nothing.
	if _, err := w.svc.SubmitClose(ctx, outside(staffer, 999)); !strings.Contains(userMessage(err), "#999 is not a report") {
		t.Errorf("close of an unmapped issue by staff: got %v, want it named", err)
	}
	if _, err := w.svc.SubmitClose(ctx, outside(reporter, 999)); userMessage(err) != "Only the reporter or staff can close this issue." {
		t.Errorf("close of an unmapped issue by a member: got %v, want the refusal of someone else's report", err)
	}
	long := outside(reporter, m.IssueIID)
	long.Reason = strings.Repeat("x", sdesk.MaxReason+1)
	if a, err := w.svc.SubmitClose(ctx, long); err != nil || !strings.Contains(a.Message, "at most") {
		t.Errorf("close with a long reason: got %+v, %v; want a message", a, err)
	}
	w.runAll(t)
	if is, _ := w.gitlab.Issue(m.IssueIID); is.State != "opened" || len(userNotes(is)) != 0 {
		t.Fatalf("after refusals: issue %s with %d notes, want opened and none", is.State, len(userNotes(is)))
	}

	// The reporter closes from outside the thread, with a hostile reason.
	r := outside(reporter, m.IssueIID)
	r.Reason = "/reopen\nfixed by @all ~bug"
	if a, err := w.svc.SubmitClose(ctx, r); err != nil || !a.Deferred {
		t.Fatalf("SubmitClose: %+v, %v", a, err)
	}
	w.gitlab.FailNext("POST", "/projects/:id/issues/:iid/notes", 500, 1)
	jobs := w.queue.jobs
	w.runAll(t) // the first note create fails (500) and is tried again within the attempt
	is, _ := w.gitlab.Issue(m.IssueIID)
	if is.State != "closed" || len(userNotes(is)) != 1 {
		t.Fatalf("after /close with a reason: issue %s with %d notes, want closed with 1", is.State, len(userNotes(is)))
	}
	if body := userNotes(is)[0].Body; !strings.Contains(body, "closing the issue") || strings.Contains(body, "\n/reopen") {
		t.Errorf("reason note: got %q", body)
	}
	if got, _ := w.store.MappingByIssue(ctx, m.IssueIID); got.State != sdesk.StateClosed {
		t.Errorf("mapping state after close: got %q, want closed", got.State)
	}
	if resp, _ := w.discord.OriginalResponse(r.Token); !strings.Contains(resp.Content, "is closed; your reason") {
		t.Errorf("close answer: got %q", resp.Content)
	}
	// Run again (a duplicate delivery): nothing more.
	if err := w.svc.RunJob(ctx, jobs[len(jobs)-1]); err != nil {
		t.Fatal(err)
	}
	if is, _ := w.gitlab.Issue(m.IssueIID); len(userNotes(is)) != 1 {
		t.Errorf("close job run twice: got %d notes, want 1", len(userNotes(is)))
	}

	// The thread archived and locked (as the close webhook does); staff
	// reopen from outside it.
	yes := true
	if err := w.svc.Discord.EditThread(ctx, m.ThreadID, sdesk.ThreadEdit{Archived: &yes, Locked: &yes}); err != nil {
		t.Fatal(err)
	}
	rr := outside(staffer, m.IssueIID)
	if _, err := w.svc.SubmitReopen(ctx, rr); err != nil {
		t.Fatal(err)
	}
	w.runAll(t)
	if is, _ := w.gitlab.Issue(m.IssueIID); is.State != "opened" {
		t.Errorf("after /reopen: issue %s, want opened", is.State)
	}
	if th, _ := w.discord.Thread(m.ThreadID); th.Archived || th.Locked {
		t.Errorf("after /reopen: thread archived=%v locked=%v, want neither", th.Archived, th.Locked)
	}
	if got, _ := w.store.MappingByIssue(ctx, m.IssueIID); got.State != sdesk.StateOpened {
		t.Errorf("mapping state after reopen: got %q, want opened", got.State)
	}
	if resp, _ := w.discord.OriginalResponse(rr.Token); !strings.Contains(resp.Content, "open again") {
		t.Errorf("reopen answer: got %q", resp.Content)
	}
}

func TestReopenOnReply(t *testing.T) {
	tests := []struct {
		name   string
		on     bool
		by     sdesk.User
		reopen bool
	}{
		{"reporter", true, reporter, true},
		{"staff", true, staffer, false},
		{"switched off", false, reporter, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.svc.StaffRoleID, w.svc.ReopenOnReply = staffRole, tt.on
			ctx := context.Background()
			m := w.reportAs(t, reporter, "Jams")
			if err := w.svc.GitLab.SetState(ctx, m.IssueIID, true); err != nil {
				t.Fatal(err)
			}
			// The close hook records the state (and archives the thread).
			if err := w.store.SetMappingState(ctx, m.IssueIID, sdesk.StateClosed, time.Now()); err != nil {
				t.Fatal(err)
			}
			yes := true
			if err := w.svc.Discord.EditThread(ctx, m.ThreadID, sdesk.ThreadEdit{Archived: &yes, Locked: &yes}); err != nil {
				t.Fatal(err)
			}
			r := inThread(tt.by, m)
			r.Text = "It is back."
			if _, err := w.svc.SubmitReply(ctx, r); err != nil {
				t.Fatal(err)
			}
			w.runAll(t)
			is, _ := w.gitlab.Issue(m.IssueIID)
			th, _ := w.discord.Thread(m.ThreadID)
			resp, _ := w.discord.OriginalResponse(r.Token)
			if got := is.State == "opened"; got != tt.reopen {
				t.Errorf("issue state after the reply: got %s, want reopened=%v", is.State, tt.reopen)
			}
			if got := !th.Archived && !th.Locked; got != tt.reopen {
				t.Errorf("thread after the reply: archived=%v locked=%v, want open=%v", th.Archived, th.Locked, tt.reopen)
			}
			if got := strings.Contains(resp.Content, "reopened it"); got != tt.reopen {
				t.Errorf("reply answer: got %q, want the reopen said=%v", resp.Content, tt.reopen)
			}
			if len(userNotes(is)) != 1 {
				t.Errorf("the reply made %d notes, want 1", len(userNotes(is)))
			}
		})
	}
}

// TestReplyDoesNotReopenWhatClosedAfterIt: a reply whose job runs late (a
// retry, a slow queue) does not reopen an issue staff closed after the
// reply was sent (seen in the chaos run: a retried reply reopened an
// issue staff had closed a second later).
func TestReplyDoesNotReopenWhatClosedAfterIt(t *testing.T) {
	w := newWorld(t)
	w.svc.ReopenOnReply = true
	ctx := context.Background()
	m := w.reportAs(t, reporter, "Jams")
	r := inThread(reporter, m)
	r.Text = "One more detail."
	if _, err := w.svc.SubmitReply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.GitLab.SetState(ctx, m.IssueIID, true); err != nil {
		t.Fatal(err)
	}
	if err := w.store.SetMappingState(ctx, m.IssueIID, sdesk.StateClosed, time.Now()); err != nil {
		t.Fatal(err)
	}
	w.runAll(t)
	if is, _ := w.gitlab.Issue(m.IssueIID); is.State != "closed" || len(userNotes(is)) != 1 {
		t.Errorf("after a late reply: issue %s with %d notes, want closed with the note", is.State, len(userNotes(is)))
	}
}

func TestStatus(t *testing.T) {
	w := newWorld(t)
	w.svc.StaffRoleID = staffRole
	ctx := context.Background()
	m := w.reportAs(t, reporter, "Jams <@&5> **now**")
	w.gitlab.EditIssue(m.IssueIID, func(is *gitlabfake.Issue) {
		is.Labels, is.Assignees = []string{"bug", "discord"}, []string{"ali_ce"}
	})
	edited, _ := w.gitlab.Issue(m.IssueIID)
	if _, err := w.svc.SubmitStatus(ctx, inThread(other, m)); !strings.Contains(userMessage(err), "Only the reporter or staff") {
		t.Errorf("status by a bystander: got %v, want a refusal", err)
	}
	tests := []struct {
		name string
		req  sdesk.ThreadRequest
		link bool
	}{
		{"reporter in the thread", inThread(reporter, m), false},
		{"staff outside", outside(staffer, m.IssueIID), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, err := w.svc.SubmitStatus(ctx, tt.req); err != nil || !a.Deferred {
				t.Fatalf("SubmitStatus: %+v, %v", a, err)
			}
			w.runAll(t)
			resp, _ := w.discord.OriginalResponse(tt.req.Token)
			for _, want := range []string{"State: open", `Assignees: ali\_ce`, "Labels: bug, discord", fmt.Sprintf("Last update: <t:%d:f>", edited.UpdatedAt.Unix())} {
				if !strings.Contains(resp.Content, want) {
					t.Errorf("status: got %q, want it to hold %q", resp.Content, want)
				}
			}
			if strings.Contains(resp.Content, "<@&5>") {
				t.Errorf("status: got %q, want the title's mention defused", resp.Content)
			}
			if got := strings.Contains(resp.Content, m.IssueURL); got != tt.link {
				t.Errorf("status link: got %v in %q, want %v (staff only)", got, resp.Content, tt.link)
			}
		})
	}
}

func TestReportsPages(t *testing.T) {
	w := newWorld(t)
	w.svc.StaffRoleID = staffRole
	ctx := context.Background()
	var mine []sdesk.Mapping
	for n := range 12 {
		mine = append(mine, w.reportAs(t, reporter, "Report "+strconv.Itoa(n)))
	}
	theirs := w.reportAs(t, other, "Not yours")
	if err := w.svc.GitLab.SetState(ctx, mine[11].IssueIID, true); err != nil {
		t.Fatal(err)
	}
	if err := w.store.SetMappingState(ctx, mine[11].IssueIID, sdesk.StateClosed, time.Now()); err != nil {
		t.Fatal(err)
	}

	page := func(r sdesk.ReportsRequest) sdesk.Answer {
		t.Helper()
		a, err := w.svc.Reports(ctx, r)
		if err != nil {
			t.Fatalf("Reports(%+v): %v", r, err)
		}
		return a
	}
	first := page(sdesk.ReportsRequest{User: reporter})
	lines := strings.Split(first.Message, "\n")
	if len(lines) != 1+sdesk.ReportsPerPage || !strings.Contains(lines[1], "#"+strconv.Itoa(mine[11].IssueIID)+"**") || !strings.Contains(lines[1], "closed") {
		t.Errorf("page 1: got %q, want 10 reports, the newest (closed) first", first.Message)
	}
	if strings.Contains(first.Message, theirs.ThreadID) {
		t.Errorf("page 1 lists another member's report: %q", first.Message)
	}
	if len(first.Buttons) != 2 || !first.Buttons[0].Disabled || first.Buttons[1].Disabled || first.Buttons[1].CustomID != "issues/1" {
		t.Errorf("page 1 buttons: got %+v, want newer disabled, older to issues/1", first.Buttons)
	}
	second := page(sdesk.ReportsRequest{User: reporter, Page: 1})
	if n := strings.Count(second.Message, "\n•"); n != 2 || !strings.Contains(second.Message, "#"+strconv.Itoa(mine[0].IssueIID)+"**") {
		t.Errorf("page 2: got %q, want the 2 oldest", second.Message)
	}
	if second.Buttons[0].Disabled || second.Buttons[0].CustomID != "issues/0" || !second.Buttons[1].Disabled {
		t.Errorf("page 2 buttons: got %+v, want newer to issues/0, older disabled", second.Buttons)
	}
	if past := page(sdesk.ReportsRequest{User: reporter, Page: 7}); past.Message != first.Message {
		t.Errorf("a page past the end: got %q, want the first page", past.Message)
	}
	if a := page(sdesk.ReportsRequest{User: staffer}); !strings.Contains(a.Message, "no reports") {
		t.Errorf("staff's own reports: got %q", a.Message)
	}
	if _, err := w.svc.Reports(ctx, sdesk.ReportsRequest{User: reporter, All: true}); userMessage(err) == "" {
		t.Errorf("all:true by a member: got %v, want a refusal", err)
	}
	all := page(sdesk.ReportsRequest{User: staffer, All: true})
	if !strings.Contains(all.Message, "<@"+other.ID+">") || strings.Contains(all.Message, "#"+strconv.Itoa(mine[11].IssueIID)+"**") || all.Buttons[1].CustomID != "issues/all/1" {
		t.Errorf("all open reports: got %q %+v, want every open one with its reporter, not the closed one", all.Message, all.Buttons)
	}
}

func TestSuggestIssues(t *testing.T) {
	w := newWorld(t)
	w.svc.StaffRoleID = staffRole
	ctx := context.Background()
	a := w.reportAs(t, reporter, "Printer jams")
	b := w.reportAs(t, reporter, "Login fails")
	c := w.reportAs(t, other, "Printer smokes")
	if err := w.store.SetMappingState(ctx, b.IssueIID, sdesk.StateClosed, time.Now()); err != nil {
		t.Fatal(err)
	}
	ids := func(cs []sdesk.Choice) []int {
		var out []int
		for _, c := range cs {
			out = append(out, c.Value)
		}
		return out
	}
	tests := []struct {
		name    string
		u       sdesk.User
		command string
		typed   string
		want    []int
	}{
		{"mine, newest first", reporter, "status", "", []int{b.IssueIID, a.IssueIID}},
		{"close: open ones first", reporter, "close", "", []int{a.IssueIID, b.IssueIID}},
		{"reopen: closed ones first", reporter, "reopen", "", []int{b.IssueIID, a.IssueIID}},
		{"by title, any case", reporter, "status", "PRINTER", []int{a.IssueIID}},
		{"by number", reporter, "status", "#" + strconv.Itoa(b.IssueIID), []int{b.IssueIID}},
		{"not another's", reporter, "status", "smokes", nil},
		{"staff: everyone's", staffer, "status", "printer", []int{c.IssueIID, a.IssueIID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(w.svc.SuggestIssues(ctx, tt.u, tt.command, tt.typed))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("SuggestIssues(%q): got %v, want %v", tt.typed, got, tt.want)
			}
		})
	}
	for _, c := range w.svc.SuggestIssues(ctx, staffer, "status", "") {
		if n := len([]rune(c.Name)); n == 0 || n > 100 {
			t.Errorf("choice name %q: %d characters, want 1 to 100", c.Name, n)
		}
	}
}

func TestIssueEventsSetStateNewestWins(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	m := w.reportAs(t, reporter, "Jams")
	t0 := time.Now().UTC().Add(-time.Hour)
	deliver := func(action, state string, at time.Time) {
		t.Helper()
		ev := sdesk.Event{Key: "issue:" + action + at.String(), Kind: "Issue Hook", Issue: &sdesk.IssueEvent{
			IID: m.IssueIID, Title: "Jams", State: state, Action: action, URL: m.IssueURL, UpdatedAt: at,
		}}
		if err := w.svc.HandleEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		w.runAll(t)
	}
	deliver("reopen", sdesk.StateOpened, t0.Add(2*time.Minute))
	deliver("close", sdesk.StateClosed, t0.Add(time.Minute)) // older, late
	if got, _ := w.store.MappingByIssue(ctx, m.IssueIID); got.State != sdesk.StateOpened {
		t.Errorf("state after a late older close: got %q, want opened", got.State)
	}
	deliver("close", sdesk.StateClosed, t0.Add(3*time.Minute))
	if got, _ := w.store.MappingByIssue(ctx, m.IssueIID); got.State != sdesk.StateClosed {
		t.Errorf("state after a newer close: got %q, want closed", got.State)
	}
}

// slowStore is a store whose Mappings waits for its context to end, as a
// stalled database does; it records the deadline it was given.
type slowStore struct {
	sdesk.Store
	mu       sync.Mutex
	deadline time.Time
}

func (s *slowStore) Mappings(ctx context.Context, _ sdesk.MappingQuery) ([]sdesk.Mapping, error) {
	dl, _ := ctx.Deadline()
	s.mu.Lock()
	s.deadline = dl
	s.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestSuggestIssuesBounded: an autocomplete is due within Discord's 3 s
// (peers' bots answer late and Discord shows nothing, 10062 "Unknown
// interaction"): a stalled store gets a deadline of SuggestTimeout, and
// the answer is then an empty list, not an error.
func TestSuggestIssuesBounded(t *testing.T) {
	w := newWorld(t)
	slow := &slowStore{Store: w.store}
	w.svc.Store = slow
	start := time.Now()
	got := w.svc.SuggestIssues(context.Background(), reporter, "close", "")
	end := time.Now()
	slow.mu.Lock()
	dl := slow.deadline
	slow.mu.Unlock()
	// The deadline was set between start and end, SuggestTimeout ahead.
	if dl.IsZero() || dl.Before(start.Add(sdesk.SuggestTimeout)) || dl.After(end.Add(sdesk.SuggestTimeout)) || sdesk.SuggestTimeout >= 3*time.Second {
		t.Errorf("store read deadline: got %v after the call, want at most SuggestTimeout (%v, under 3 s)", dl.Sub(start), sdesk.SuggestTimeout)
	}
	if len(got) != 0 {
		t.Errorf("choices from a stalled store: got %v, want none", got)
	}
}

// TestLimitWithGitLabDown: when GitLab cannot confirm the open reports
// in time, the store's word stands: the limit holds.
func TestLimitWithGitLabDown(t *testing.T) {
	w := newWorld(t)
	w.svc.MaxOpenReports = 1
	m := w.reportAs(t, reporter, "Jams")
	w.gitlab.FailNext("GET", "/projects/:id/issues/:iid", 503, 100)
	if msg := userMessage(w.svc.CheckReport(context.Background(), reporter)); !strings.Contains(msg, "#"+strconv.Itoa(m.IssueIID)) {
		t.Errorf("CheckReport with GitLab down: got %q, want the open report named", msg)
	}
	// A report deleted in GitLab (404) is not open.
	w.gitlab.ClearFaults()
	w.gitlab.FailNext("GET", "/projects/:id/issues/:iid", 404, 100)
	if err := w.svc.CheckReport(context.Background(), reporter); err != nil {
		t.Errorf("CheckReport with the report gone from GitLab: got %v, want nil", err)
	}
}

// TestPanel: /panel posts the panel once however often its job runs, and
// a channel the bot may not post in gets an answer saying so, not an
// apology.
func TestPanel(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id := nextID()
	if _, err := w.svc.SubmitPanel(ctx, sdesk.PanelRequest{InteractionID: id, Token: "tok-" + id, ChannelID: supportChannel}); err != nil {
		t.Fatal(err)
	}
	jobs := w.queue.jobs
	w.runAll(t)
	if err := w.svc.RunJob(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
	msgs := w.discord.Messages(supportChannel)
	if len(msgs) != 1 || msgs[0].Content != sdesk.PanelText {
		t.Fatalf("channel: got %d messages, want the panel once", len(msgs))
	}
	if resp, _ := w.discord.OriginalResponse("tok-" + id); !strings.Contains(resp.Content, "panel is posted") {
		t.Errorf("answer: got %q", resp.Content)
	}

	id = nextID()
	w.discord.FailNext("POST", "/channels/*/messages", 403, `{"code":50013,"message":"Missing Permissions"}`, 1)
	if _, err := w.svc.SubmitPanel(ctx, sdesk.PanelRequest{InteractionID: id, Token: "tok-" + id, ChannelID: "1200000000000000099"}); err != nil {
		t.Fatal(err)
	}
	w.runAll(t)
	if resp, _ := w.discord.OriginalResponse("tok-" + id); !strings.Contains(resp.Content, "needs View Channel and Send Messages") {
		t.Errorf("answer when the bot may not post: got %q", resp.Content)
	}
}

// movedGitLab is GitLab for an issue moved to another project: closed,
// with moved_to_id set.
type movedGitLab struct{ sdesk.GitLab }

func (g movedGitLab) GetIssue(ctx context.Context, iid int) (sdesk.Issue, error) {
	is, err := g.GitLab.GetIssue(ctx, iid)
	is.MovedToID = 4711
	return is, err
}

// TestMovedIssueStaysClosed: a moved issue's conversation goes on where it
// went; neither /reopen nor a reporter's reply reopens the original.
func TestMovedIssueStaysClosed(t *testing.T) {
	for _, via := range []string{"/reopen", "reply"} {
		t.Run(via, func(t *testing.T) {
			w := newWorld(t)
			w.svc.ReopenOnReply = true
			ctx := context.Background()
			m := w.reportAs(t, reporter, "Jams")
			if err := w.svc.GitLab.SetState(ctx, m.IssueIID, true); err != nil {
				t.Fatal(err)
			}
			if err := w.store.SetMappingState(ctx, m.IssueIID, sdesk.StateClosed, time.Now()); err != nil {
				t.Fatal(err)
			}
			w.svc.GitLab = movedGitLab{w.svc.GitLab}
			r := inThread(reporter, m)
			r.Text = "Still broken."
			var err error
			if via == "/reopen" {
				_, err = w.svc.SubmitReopen(ctx, r)
			} else {
				_, err = w.svc.SubmitReply(ctx, r)
			}
			if err != nil {
				t.Fatal(err)
			}
			w.runAll(t)
			if is, _ := w.gitlab.Issue(m.IssueIID); is.State != "closed" {
				t.Errorf("moved issue after %s: got %s, want closed", via, is.State)
			}
			resp, _ := w.discord.OriginalResponse(r.Token)
			if strings.Contains(resp.Content, "open again") || strings.Contains(resp.Content, "reopened it") {
				t.Errorf("answer: got %q, want no claim that it is open", resp.Content)
			}
		})
	}
}

// TestFailedReportReleasesCooldown: a report whose job failed for good
// does not keep its member waiting out the cooldown.
func TestFailedReportReleasesCooldown(t *testing.T) {
	w := newWorld(t)
	w.svc.ReportCooldown, w.svc.MaxAttempts = time.Hour, 1
	ctx := context.Background()
	w.gitlab.FailNext("POST", "/projects/:id/issues", 403, 10)
	id := nextID()
	if err := w.svc.SubmitReport(ctx, sdesk.ReportRequest{InteractionID: id, Token: "tok-" + id, GuildID: guild, User: reporter, Title: "T", Description: "D"}); err != nil {
		t.Fatal(err)
	}
	if msg := userMessage(w.svc.CheckReport(ctx, reporter)); msg == "" {
		t.Fatalf("CheckReport while the report is being made: got no cooldown")
	}
	w.queue.mu.Lock()
	jobs := w.queue.jobs
	w.queue.jobs = nil
	w.queue.mu.Unlock()
	for _, j := range jobs {
		_ = w.svc.RunJob(ctx, j)
	}
	if j, _ := w.store.GetJob(ctx, id); j.Status != sdesk.JobFailed {
		t.Fatalf("report job: got %s, want failed", j.Status)
	}
	if err := w.svc.CheckReport(ctx, reporter); err != nil {
		t.Errorf("CheckReport after the report failed for good: got %q, want the form", userMessage(err))
	}
}

// TestJobIssueOfManageJobs: the jobs of /close, /reopen and /status name
// their issue in their log lines (jobIssue), the `issue` option's too: its
// JSON field must not collide with an event's "issue" object.
func TestJobIssueOfManageJobs(t *testing.T) {
	w := newWorld(t)
	w.svc.StaffRoleID = staffRole
	ctx := context.Background()
	m := w.reportAs(t, reporter, "Jams")
	for _, submit := range []func(context.Context, sdesk.ThreadRequest) (sdesk.Answer, error){w.svc.SubmitClose, w.svc.SubmitReopen, w.svc.SubmitStatus} {
		for _, r := range []sdesk.ThreadRequest{inThread(reporter, m), outside(staffer, m.IssueIID)} {
			if _, err := submit(ctx, r); err != nil {
				t.Fatal(err)
			}
			w.queue.mu.Lock()
			j := w.queue.jobs[len(w.queue.jobs)-1]
			w.queue.mu.Unlock()
			if got := sdesk.JobIssue(j); got != m.IssueIID {
				t.Errorf("job %s (%s, issue option %d): names issue %d, want %d", j.ID, j.Kind, r.Issue, got, m.IssueIID)
			}
		}
	}
}
