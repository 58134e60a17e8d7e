package chaos

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Snapshot is the state the checks read: GitLab's from the GitLab fake,
// Discord's from the Discord fake, and sdesk's jobs from its store.
type Snapshot struct {
	Issues  []gitlabfake.Issue
	Threads []discordfake.ThreadState
	// Channel holds the messages posted in the support channel itself.
	Channel []discordfake.Message
	// Answers are the interactions' original responses, by token.
	Answers map[string]discordfake.Message
	// Jobs is nil until the store was read (after sdesk stopped).
	Jobs *Jobs
}

// Jobs are the unfinished jobs in sdesk's store.
type Jobs struct {
	Pending, Failed []sdesk.Job
}

// Capture reads the fakes' state for the checks of w.
func Capture(env *e2e.Env, w *World) Snapshot {
	s := Snapshot{Issues: env.GitLab.Issues(), Channel: env.Discord.Messages(e2e.ChannelID), Answers: map[string]discordfake.Message{}}
	for _, id := range env.Discord.Threads() {
		if th, ok := env.Discord.Thread(id); ok {
			s.Threads = append(s.Threads, th)
		}
	}
	for _, r := range w.reports {
		for _, it := range r.interactions {
			if m, ok := env.Discord.OriginalResponse(it.in.Token); ok {
				s.Answers[it.in.Token] = m
			}
		}
	}
	return s
}

// Row is one line of the counts table: how many effects the run should
// have caused, how many it did, and how many of those were missing (lost)
// or extra (doubled). In the rows whose want is 0, got counts what must
// not happen: a leak or an echo is doubled, a job left pending or failed
// is lost, a late answer is neither (but still a violation).
type Row struct {
	Check   string
	Want    int
	Got     int
	Lost    int
	Doubled int
}

// lose counts n effects that should not be there and stand for lost
// work (a job left pending or failed).
func (r *Row) lose(n int) {
	r.Got += n
	r.Lost += n
}

// note counts n occurrences that break a rule without being an effect
// lost or doubled (a late answer).
func (r *Row) note(n int) { r.Got += n }

func (r *Row) add(want, got int) {
	r.Want += want
	r.Got += got
	if got < want {
		r.Lost += want - got
	}
	if got > want {
		r.Doubled += got - want
	}
}

// Violation is one broken rule, with the report it concerns (-1: none).
type Violation struct {
	Report int
	What   string
}

// Result is the verdict on a run.
type Result struct {
	Rows       []Row
	Violations []Violation
}

// Failed tells whether any rule was broken.
func (r Result) Failed() bool { return len(r.Violations) > 0 }

// Table is the counts table.
func (r Result) Table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "check\twant\tgot\tlost\tdoubled\t")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", row.Check, row.Want, row.Got, row.Lost, row.Doubled)
	}
	_ = tw.Flush()
	return b.String()
}

// Lost and Doubled sum the table's columns.
func (r Result) Lost() (lost, doubled int) {
	for _, row := range r.Rows {
		lost += row.Lost
		doubled += row.Doubled
	}
	return lost, doubled
}

// message signatures (see classify).
var (
	noteRE     = regexp.MustCompile(`Note (N\d{4})\b`)
	versionRE  = regexp.MustCompile(`Note N\d{4} \((E\d{4})\)`)
	replyRE    = regexp.MustCompile(`Reply (R\d{4})\b`)
	internalRE = regexp.MustCompile(`Internal (I\d{4})\b`)
	labelRE    = regexp.MustCompile(`added (L\d{4})\b`)
	titleRE    = regexp.MustCompile(`\((T\d{4})\)`)
)

// msgText is everything a message shows: content and embeds.
func msgText(m discordfake.Message) string {
	parts := []string{m.Content}
	for _, e := range m.Embeds {
		for _, k := range []string{"title", "description"} {
			if s, ok := e[k].(string); ok {
				parts = append(parts, s)
			}
		}
		if a, ok := e["author"].(map[string]any); ok {
			if s, ok := a["name"].(string); ok {
				parts = append(parts, s)
			}
		}
		if f, ok := e["footer"].(map[string]any); ok {
			if s, ok := f["text"].(string); ok {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, "\n")
}

func embedAuthor(m discordfake.Message) string {
	for _, e := range m.Embeds {
		if a, ok := e["author"].(map[string]any); ok {
			if s, ok := a["name"].(string); ok {
				return s
			}
		}
	}
	return ""
}

// classify names what a thread message is: "report" (the report's first
// message), "note N0007", "labels L0021", "title T0042", "close",
// "reopen", "echo R0012" (sdesk's own reply posted back), "internal
// I0019", or "stray".
func classify(m discordfake.Message) string {
	text := msgText(m)
	switch {
	case internalRE.MatchString(text):
		return "internal " + internalRE.FindStringSubmatch(text)[1]
	case replyRE.MatchString(text):
		return "echo " + replyRE.FindStringSubmatch(text)[1]
	case noteRE.MatchString(text):
		return "note " + noteRE.FindStringSubmatch(text)[1]
	case strings.Contains(text, "Labels:") && labelRE.MatchString(text):
		return "labels " + labelRE.FindStringSubmatch(text)[1]
	case strings.Contains(text, "Title changed to") && titleRE.MatchString(text):
		return "title " + titleRE.FindStringSubmatch(text)[1]
	case strings.Contains(text, "was closed by"):
		return "close"
	case strings.Contains(text, "was reopened by"):
		return "reopen"
	case strings.Contains(strings.ToLower(m.Content), "new report from"):
		return "report"
	}
	return "stray"
}

// numbered gives repeated signatures (close, reopen) their occurrence:
// close#1, close#2...
func numbered(sigs []string) []string {
	seen := map[string]int{}
	out := make([]string, len(sigs))
	for i, s := range sigs {
		if s == "close" || s == "reopen" {
			seen[s]++
			out[i] = s + "#" + strconv.Itoa(seen[s])
		} else {
			out[i] = s
		}
	}
	return out
}

func isApology(m discordfake.Message) bool { return strings.HasPrefix(m.Content, "Sorry") }

// Check judges w against s. The rules (issue 8, item 9): every accepted
// report has one GitLab issue and one thread with its first message, and
// its answer; every delivered public note is one message in the right
// thread, in delivery order, showing its latest text under its author's
// name; every issue event is its one line; every accepted reply is one
// note; no internal note and no note of sdesk's own reaches Discord;
// nothing else is posted; every interaction is answered within Discord's
// 3 s and every webhook within GitLab's 10 s; no job is left pending or
// failed.
func (w *World) Check(s Snapshot) Result {
	c := checker{w: w, s: s, rows: map[string]*Row{}}
	c.run()
	var res Result
	for _, name := range rowOrder {
		if r, ok := c.rows[name]; ok {
			res.Rows = append(res.Rows, *r)
		}
	}
	res.Violations = c.violations
	return res
}

var rowOrder = []string{
	"reports: GitLab issues", "reports: threads", "reports: first messages", "reports: reporter in thread",
	"answers (deferred, then edited)", "replies: GitLab notes", "closes: issue state",
	"public notes: messages", "public notes: latest text", "issue events: messages", "messages in order (threads)",
	"internal notes in Discord", "own notes echoed", "stray messages", "stray issues and threads",
	"interactions answered", "acks later than 3 s", "webhooks later than 10 s", "jobs pending", "jobs failed",
}

type checker struct {
	w          *World
	s          Snapshot
	rows       map[string]*Row
	violations []Violation
}

func (c *checker) row(name string) *Row {
	r, ok := c.rows[name]
	if !ok {
		r = &Row{Check: name}
		c.rows[name] = r
	}
	return r
}

func (c *checker) fail(report int, format string, args ...any) {
	c.violations = append(c.violations, Violation{Report: report, What: fmt.Sprintf(format, args...)})
}

func (c *checker) run() {
	threadsByID := map[string]discordfake.ThreadState{}
	for _, th := range c.s.Threads {
		threadsByID[th.ID] = th
	}
	knownIssues := map[int]bool{}
	knownThreads := map[string]bool{}
	// sigs maps every classified message to where it is.
	where := map[string][]string{} // sig -> thread IDs (one per message)
	for _, th := range c.s.Threads {
		for _, m := range th.Messages {
			sig := classify(m)
			where[sig] = append(where[sig], th.ID)
		}
	}
	for _, m := range c.s.Channel {
		where[classify(m)] = append(where[classify(m)], e2e.ChannelID)
	}

	for _, r := range c.w.reports {
		c.interactions(r)
		if r.submit == nil {
			continue
		}
		marker := "interaction=" + r.submit.in.ID
		var issues []gitlabfake.Issue
		for _, is := range c.s.Issues {
			if strings.Contains(is.Description, marker) {
				issues = append(issues, is)
				knownIssues[is.IID] = true
			}
		}
		if !r.submit.accepted {
			// Never answered (counted above): whether sdesk got it is
			// unknown, so one issue and its thread are no strays.
			if len(issues) > 1 {
				c.fail(r.idx, "report %d (interaction %s, never answered) has %d issues", r.idx, r.submit.in.ID, len(issues))
			}
			for _, th := range c.s.Threads {
				for _, is := range issues {
					if strings.HasPrefix(th.Name, "#"+strconv.Itoa(is.IID)+" ") {
						knownThreads[th.ID] = true
					}
				}
			}
			continue
		}
		kept := c.keptIssue(r, issues)
		if kept == nil {
			c.row("reports: GitLab issues").add(1, 0)
			c.fail(r.idx, "report %d (interaction %s): no GitLab issue", r.idx, r.submit.in.ID)
			continue
		}
		// Extra issues: tolerated only when closed (item 8: a second issue
		// made by a request in flight is found and closed as a duplicate).
		open := 1
		for _, is := range issues {
			if is.IID != kept.IID && is.State != "closed" {
				open++
				c.fail(r.idx, "report %d: second open issue #%d beside #%d", r.idx, is.IID, kept.IID)
			}
		}
		c.row("reports: GitLab issues").add(1, open)

		// Threads of the report's issues.
		var threads []discordfake.ThreadState
		for _, th := range c.s.Threads {
			for _, is := range issues {
				if strings.HasPrefix(th.Name, "#"+strconv.Itoa(is.IID)+" ") {
					threads = append(threads, th)
					knownThreads[th.ID] = true
				}
			}
		}
		c.row("reports: threads").add(1, len(threads))
		if len(threads) != 1 {
			c.fail(r.idx, "report %d (issue #%d): %d threads, want 1", r.idx, kept.IID, len(threads))
		}
		th, ok := threadsByID[r.thread]
		if r.thread == "" && len(threads) > 0 {
			th, ok = threads[0], true
		}
		if !ok {
			continue
		}
		if !strings.HasPrefix(th.Name, "#"+strconv.Itoa(kept.IID)+" ") {
			c.fail(r.idx, "report %d: the answer's thread %s is named %q, not after issue #%d", r.idx, th.ID, th.Name, kept.IID)
		}
		member := 0
		if slices.Contains(th.Members, r.user.ID) {
			member = 1
		}
		c.row("reports: reporter in thread").add(1, member)
		if member == 0 {
			c.fail(r.idx, "report %d: reporter %s is not a member of thread %s", r.idx, r.user.ID, th.ID)
		}
		c.replies(r, kept)
		if r.state != "" && kept.State != r.state {
			c.row("closes: issue state").add(1, 0)
			c.fail(r.idx, "report %d: issue #%d is %s, want %s", r.idx, kept.IID, kept.State, r.state)
		} else if r.state != "" {
			c.row("closes: issue state").add(1, 1)
		}
		c.thread(r, th, where)
	}

	for _, is := range c.s.Issues {
		if !knownIssues[is.IID] {
			c.row("stray issues and threads").add(0, 1)
			c.fail(-1, "issue #%d %q belongs to no report", is.IID, is.Title)
		}
	}
	for _, th := range c.s.Threads {
		if !knownThreads[th.ID] {
			c.row("stray issues and threads").add(0, 1)
			c.fail(-1, "thread %s %q belongs to no report", th.ID, th.Name)
		}
	}
	c.row("stray issues and threads")
	for _, m := range c.s.Channel {
		c.row("stray messages").add(0, 1)
		c.fail(-1, "message in the support channel: %q", sdesk.Truncate(msgText(m), 200))
	}
	c.w.mu.Lock()
	hs := c.w.hooks
	c.w.mu.Unlock()
	c.row("acks later than 3 s").note(hs.slow)
	if hs.slow > 0 {
		c.fail(-1, "%d interaction answers came after Discord's 3 s", hs.slow)
	}
	c.row("webhooks later than 10 s").note(hs.late)
	if hs.late > 0 {
		c.fail(-1, "%d webhook deliveries got no answer within GitLab's 10 s", hs.late)
	}
	if hs.failed > 0 {
		c.fail(-1, "%d webhook deliveries were never answered 2xx (resent for 2 minutes)", hs.failed)
	}
	if c.s.Jobs != nil {
		c.row("jobs pending").lose(len(c.s.Jobs.Pending))
		for _, j := range c.s.Jobs.Pending {
			c.fail(reportOfJob(c.w, j), "job %s (%s) left pending after %d attempts: %s", j.ID, j.Kind, j.Attempts, j.Error)
		}
		c.row("jobs failed").lose(len(c.s.Jobs.Failed))
		for _, j := range c.s.Jobs.Failed {
			c.fail(reportOfJob(c.w, j), "job %s (%s) failed for good (%s): %s", j.ID, j.Kind, j.ErrorRef, j.Error)
		}
	}
	for _, name := range []string{"internal notes in Discord", "own notes echoed", "stray messages", "messages in order (threads)"} {
		c.row(name)
	}
}

// keptIssue is the issue the report's answer names, or its oldest issue.
func (c *checker) keptIssue(r *report, issues []gitlabfake.Issue) *gitlabfake.Issue {
	for i := range issues {
		if issues[i].IID == r.iid && r.iid != 0 {
			return &issues[i]
		}
	}
	if len(issues) == 0 {
		return nil
	}
	return &issues[0]
}

// interactions checks that r's interactions were answered, and that the
// accepted ones got their final answer.
func (c *checker) interactions(r *report) {
	for _, it := range r.interactions {
		row := c.row("interactions answered")
		switch {
		case it.accepted:
			row.add(1, 1)
		case it.refusal != "":
			row.add(1, 1)
			c.fail(r.idx, "report %d op %d: %s %s refused: %s", r.idx, it.op, it.what, it.in.ID, it.refusal)
			continue
		default:
			row.add(1, 0)
			c.fail(r.idx, "report %d op %d: %s %s never answered (%d attempts: %s)", r.idx, it.op, it.what, it.in.ID, it.attempts, strings.Join(it.errs, "; "))
			continue
		}
		m, ok := c.s.Answers[it.in.Token]
		good := ok && !isApology(m) && strings.TrimSpace(msgText(m)) != ""
		if good && it.what == "report" {
			good = answerRE.MatchString(m.Content)
		}
		if good {
			c.row("answers (deferred, then edited)").add(1, 1)
			continue
		}
		c.row("answers (deferred, then edited)").add(1, 0)
		switch {
		case !ok:
			c.fail(r.idx, "report %d op %d: %s %s: its deferred answer was never edited", r.idx, it.op, it.what, it.in.ID)
		default:
			c.fail(r.idx, "report %d op %d: %s %s answered %q", r.idx, it.op, it.what, it.in.ID, sdesk.Truncate(msgText(m), 200))
		}
	}
}

// replies checks that each accepted reply is one note, on the report's
// issue.
func (c *checker) replies(r *report, kept *gitlabfake.Issue) {
	for _, rp := range r.replies {
		if !rp.in.accepted {
			continue
		}
		here, elsewhere := 0, 0
		for _, is := range c.s.Issues {
			for _, n := range is.Notes {
				if strings.Contains(n.Body, "Reply "+rp.token) {
					if is.IID == kept.IID {
						here++
					} else {
						elsewhere++
					}
				}
			}
		}
		c.row("replies: GitLab notes").add(1, here+elsewhere)
		if here != 1 || elsewhere != 0 {
			c.fail(r.idx, "report %d op %d: reply %s made %d notes on #%d and %d on other issues, want 1", r.idx, rp.op, rp.token, here, kept.IID, elsewhere)
		}
	}
}

// thread checks the messages of r's thread.
func (c *checker) thread(r *report, th discordfake.ThreadState, where map[string][]string) {
	var sigs []string
	firsts := 0
	for _, m := range th.Messages {
		sig := classify(m)
		switch {
		case sig == "report":
			firsts++
		case strings.HasPrefix(sig, "internal "):
			c.row("internal notes in Discord").add(0, 1)
			c.fail(r.idx, "report %d: internal note %s posted in thread %s", r.idx, strings.TrimPrefix(sig, "internal "), th.ID)
		case strings.HasPrefix(sig, "echo "):
			c.row("own notes echoed").add(0, 1)
			c.fail(r.idx, "report %d: sdesk's own note (reply %s) posted back into thread %s", r.idx, strings.TrimPrefix(sig, "echo "), th.ID)
		case sig == "stray":
			c.row("stray messages").add(0, 1)
			c.fail(r.idx, "report %d: unexpected message in thread %s: %q", r.idx, th.ID, sdesk.Truncate(msgText(m), 200))
		default:
			sigs = append(sigs, sig)
		}
	}
	c.row("reports: first messages").add(1, firsts)
	if firsts != 1 {
		c.fail(r.idx, "report %d: %d first messages in thread %s, want 1", r.idx, firsts, th.ID)
	}

	got := numbered(sigs)
	want := numbered(func() []string {
		out := make([]string, len(r.expects))
		for i, e := range r.expects {
			out[i] = e.sig
		}
		return out
	}())
	count := map[string]int{}
	for _, s := range got {
		count[s]++
	}
	wantSet := map[string]bool{}
	for i, s := range want {
		wantSet[s] = true
		name := "issue events: messages"
		if strings.HasPrefix(s, "note ") {
			name = "public notes: messages"
		}
		n := count[s]
		c.row(name).add(1, n)
		if n == 0 {
			c.fail(r.idx, "report %d op %d: %s never reached thread %s", r.idx, r.expects[i].op, r.expects[i].sig, th.ID)
		} else if n > 1 {
			c.fail(r.idx, "report %d op %d: %s posted %d times in thread %s", r.idx, r.expects[i].op, s, n, th.ID)
		}
		if strings.HasPrefix(s, "note ") {
			for _, other := range where[s] {
				if other != th.ID {
					c.row(name).add(0, 1)
					c.fail(r.idx, "report %d op %d: %s also posted in thread %s", r.idx, r.expects[i].op, s, other)
				}
			}
		}
	}
	// More close/reopen lines than events.
	for _, s := range got {
		if !wantSet[s] && strings.Contains(s, "#") {
			c.row("issue events: messages").add(0, 1)
			c.fail(r.idx, "report %d: extra %s message in thread %s", r.idx, s, th.ID)
		} else if !wantSet[s] && c.owner(s) < 0 {
			// (A note of another report is counted by that report.)
			c.row("stray messages").add(0, 1)
			c.fail(r.idx, "report %d: %s in thread %s, which no delivered event asked for", r.idx, s, th.ID)
		}
	}
	c.noteTexts(r, th)

	// Order: the first occurrences of the expected messages come in the
	// order their events were delivered.
	var gotOrder, wantOrder []string
	seen := map[string]bool{}
	for _, s := range got {
		if wantSet[s] && !seen[s] {
			seen[s] = true
			gotOrder = append(gotOrder, s)
		}
	}
	for _, s := range want {
		if seen[s] {
			wantOrder = append(wantOrder, s)
		}
	}
	if !slices.Equal(gotOrder, wantOrder) {
		c.row("messages in order (threads)").add(0, 1)
		c.fail(r.idx, "report %d: thread %s has its messages in the order %v, want %v", r.idx, th.ID, gotOrder, wantOrder)
	}
}

// noteTexts checks that each note's message shows its latest text, under
// its author's name (not an editor's).
func (c *checker) noteTexts(r *report, th discordfake.ThreadState) {
	ops := make([]int, 0, len(r.notes))
	for n := range r.notes {
		ops = append(ops, n)
	}
	sort.Ints(ops)
	for _, n := range ops {
		nt := r.notes[n]
		var msg *discordfake.Message
		for i := range th.Messages {
			if classify(th.Messages[i]) == "note "+nt.versions[0] {
				msg = &th.Messages[i]
			}
		}
		if msg == nil {
			continue // counted as lost above, if its hook was delivered
		}
		if len(nt.versions) > 1 {
			cur := nt.versions[len(nt.versions)-1]
			text := msgText(*msg)
			shown := nt.versions[0]
			if m := versionRE.FindStringSubmatch(text); m != nil {
				shown = m[1]
			}
			ok := 0
			if shown == cur {
				ok = 1
			}
			c.row("public notes: latest text").add(1, ok)
			if ok == 0 {
				c.fail(r.idx, "report %d: note %s shows version %s, want %s (edits %v)", r.idx, nt.versions[0], shown, cur, nt.versions[1:])
			}
		}
		author := embedAuthor(*msg)
		if !strings.Contains(author, nt.author.Name) {
			c.fail(r.idx, "report %d: note %s is shown as by %q, want its author %s", r.idx, nt.versions[0], author, nt.author.Name)
		}
		for _, e := range nt.editors {
			if e != nt.author && strings.Contains(author, e.Name) {
				c.fail(r.idx, "report %d: note %s is shown as by its editor %q, not its author %s", r.idx, nt.versions[0], author, nt.author.Name)
			}
		}
	}
}

// owner returns the report that expects a message signature, -1 when
// none does.
func (c *checker) owner(sig string) int {
	for _, r := range c.w.reports {
		for _, e := range r.expects {
			if e.sig == sig {
				return r.idx
			}
		}
	}
	return -1
}

// reportOfJob finds the report a job belongs to, -1 when none.
func reportOfJob(w *World, j sdesk.Job) int {
	for _, r := range w.reports {
		for _, it := range r.interactions {
			if it.in.ID == j.ID {
				return r.idx
			}
		}
		if r.iid != 0 && strings.Contains(string(j.Payload), `"issue_iid":`+strconv.Itoa(r.iid)+`,`) ||
			r.iid != 0 && strings.Contains(string(j.Payload), `"iid":`+strconv.Itoa(r.iid)+`,`) {
			return r.idx
		}
	}
	return -1
}

// Report is the run's account: the plan, the counts table, and for each
// violation the report's operations and what became of them, so that the
// run can be reproduced and the fault traced.
func (w *World) Report(res Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos seed %d: %d ops (%s), %d reports, %s\n", w.Plan.Seed, len(w.Plan.Ops), w.Plan.Counts(), w.Plan.Reports, w.ended.Sub(w.started).Round(time.Millisecond))
	w.mu.Lock()
	hs := w.hooks
	kills := slices.Clone(w.kills)
	w.mu.Unlock()
	for _, k := range kills {
		fmt.Fprintf(&b, "  %s\n", k)
	}
	fmt.Fprintf(&b, "interactions: %d answered, %d attempts; webhooks: %d answered 2xx, %d attempts\n", hs.acks, hs.ackAttempts, hs.deliveries, hs.attempts)
	b.WriteString(res.Table())
	lost, doubled := res.Lost()
	fmt.Fprintf(&b, "lost %d, doubled %d, violations %d\n", lost, doubled, len(res.Violations))
	if !res.Failed() {
		return b.String()
	}
	b.WriteString("\nviolations:\n")
	byReport := map[int][]string{}
	var order []int
	for _, v := range res.Violations {
		if _, ok := byReport[v.Report]; !ok {
			order = append(order, v.Report)
		}
		byReport[v.Report] = append(byReport[v.Report], v.What)
	}
	for _, idx := range order {
		for _, what := range byReport[idx] {
			fmt.Fprintf(&b, "  - %s\n", what)
		}
		if idx < 0 || idx >= len(w.reports) {
			continue
		}
		r := w.reports[idx]
		id := ""
		if r.submit != nil {
			id = r.submit.in.ID
		}
		fmt.Fprintf(&b, "    report %d: issue #%d, thread %s, interaction %s; its operations:\n", idx, r.iid, r.thread, id)
		for _, l := range r.log {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	}
	return b.String()
}

// Grep returns the identifiers of a violation's report (interaction IDs,
// issue number) to find its lines in sdesk's log.
func (w *World) Grep(report int) []string {
	if report < 0 || report >= len(w.reports) {
		return nil
	}
	r := w.reports[report]
	var out []string
	if r.iid != 0 {
		out = append(out, `"issue":`+strconv.Itoa(r.iid)+`,`, `"issue":`+strconv.Itoa(r.iid)+`}`)
	}
	for _, it := range r.interactions {
		out = append(out, it.in.ID)
	}
	return out
}

// Excerpts returns, for each report with a violation, the lines of sdesk's
// log (JSON lines) that name its interactions or its issue: at most limit
// per report, the last ones, since the end of a story tells most.
func (w *World) Excerpts(res Result, logs string, limit int) string {
	lines := strings.Split(logs, "\n")
	var b strings.Builder
	shown := map[int]bool{}
	for _, v := range res.Violations {
		keys := w.Grep(v.Report)
		if shown[v.Report] || len(keys) == 0 {
			continue
		}
		shown[v.Report] = true
		var hits []string
		for _, line := range lines {
			for _, k := range keys {
				if strings.Contains(line, k) {
					hits = append(hits, line)
					break
				}
			}
		}
		if len(hits) > limit {
			hits = append([]string{fmt.Sprintf("… %d earlier lines", len(hits)-limit)}, hits[len(hits)-limit:]...)
		}
		fmt.Fprintf(&b, "sdesk log of report %d:\n%s\n", v.Report, strings.Join(hits, "\n"))
	}
	return b.String()
}
