package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
)

// Target is the sdesk under test, as Discord and GitLab reach it.
type Target interface {
	// Interact delivers a signed interaction and returns the HTTP status
	// and body of the answer, or an error when none came.
	Interact(ctx context.Context, body []byte, h http.Header) (int, []byte, error)
	// Webhook delivers a GitLab webhook and returns the HTTP status, or
	// an error when no answer came.
	Webhook(ctx context.Context, body []byte, h http.Header) (int, error)
}

// HTTPTarget is an sdesk reached over HTTP at a base URL that may change
// between calls (a restarted process listens on a new port).
type HTTPTarget struct {
	URL    func() string
	Client *http.Client // nil: a client without a timeout (the caller's context bounds each call)
}

// Interact posts to URL()/interactions.
func (h HTTPTarget) Interact(ctx context.Context, body []byte, hdr http.Header) (int, []byte, error) {
	return h.post(ctx, "/interactions", body, hdr)
}

// Webhook posts to URL()/gitlab.
func (h HTTPTarget) Webhook(ctx context.Context, body []byte, hdr http.Header) (int, error) {
	st, _, err := h.post(ctx, "/gitlab", body, hdr)
	return st, err
}

func (h HTTPTarget) post(ctx context.Context, path string, body []byte, hdr http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL()+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = hdr.Clone()
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, b, nil
}

// Limits of Discord and GitLab that the driver holds sdesk to.
const (
	// AckLimit: Discord shows "The application did not respond" after
	// 3 s without an answer to an interaction.
	AckLimit = 3 * time.Second
	// HookLimit: gitlab.com gives up on a webhook after 10 s.
	HookLimit = 10 * time.Second
	// replayWindow: a signed interaction is refused 5 minutes after its
	// timestamp; the driver stops sending one again a little earlier.
	replayWindow = 4*time.Minute + 30*time.Second
)

// GitLab users of a run, named as the GitLab fake's API names them (a
// user other than the token's is "user<ID>", name and username), so that
// hooks and the API agree on who wrote a note.
var (
	StaffA = GitLabUser{ID: 501, Name: "user501", Username: "user501"}
	StaffB = GitLabUser{ID: 502, Name: "user502", Username: "user502"}
	// Bot is the user sdesk acts as (the GitLab fake's token user).
	Bot = GitLabUser{ID: gitlabfake.DefaultUserID, Name: gitlabfake.DefaultUsername, Username: gitlabfake.DefaultUsername}
)

// reporters are the Discord users who report; e2e.Staff answers and closes
// too.
var reporters = [Reporters]e2e.User{
	e2e.Reporter,
	{ID: "1210000000000000011", Username: "printer-owner"},
	{ID: "1210000000000000012", Username: "night-shift"},
}

// Config is one chaos run.
type Config struct {
	Plan   Plan
	Env    *e2e.Env
	Target Target
	// Workers run the reports in parallel: report i belongs to worker i %
	// Workers, which runs its ops in plan order. Default 4.
	Workers int
	// KillAt lists op numbers: when the op with that number starts, Kill
	// is called (in the background; the ops go on). It kills sdesk, starts
	// it again and says what it killed (e.g. the requests in flight).
	KillAt []int
	Kill   func(ctx context.Context) (string, error)
	// Proxies are turned calm (rate 0) once the ops are done, and watched
	// for quiet while the run settles.
	Proxies []*Proxy
	// Wait bounds each wait for an effect the next op needs (a report's
	// answer, a reply's note, a close); default 2 minutes.
	Wait time.Duration
	// Settle bounds the wait, after the last op, for the checks to pass;
	// default 1 minute.
	Settle time.Duration
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// World is what a run did, for the checks.
type World struct {
	Plan    Plan
	project Project
	reports []*report
	kills   []string
	started time.Time
	ended   time.Time

	mu    sync.Mutex
	hooks hookStats
}

type hookStats struct {
	deliveries, attempts, late, failed int
	acks, ackAttempts, slow            int
}

// interaction is one signed interaction and what became of it.
type interaction struct {
	op       int
	what     string
	in       e2e.Interaction
	header   http.Header
	signed   time.Time
	accepted bool   // answered with a deferred message (type 5)
	refusal  string // answered with a message instead (type 4 or other)
	attempts int
	errs     []string
}

// delivery is one webhook event and its deliveries.
type delivery struct {
	op        int
	what      string
	hook      Hook
	keys      []string
	delivered bool
	attempts  int
	errs      []string
}

type note struct {
	id       int
	author   GitLabUser
	versions []string // tokens of its texts, the current one last
	editors  []GitLabUser
	created  time.Time
	updated  time.Time
}

type reply struct {
	op    int
	token string
	in    *interaction
}

// expect is a message a delivered hook should put in the thread.
type expect struct {
	op  int
	sig string // see classify
}

type report struct {
	idx    int
	op     Op
	user   e2e.User
	title  string
	submit *interaction

	iid    int
	thread string
	dead   string // why later ops are skipped

	notes   map[int]*note // by the N of the op that made the note
	replies []*reply
	expects []expect
	state   string // expected GitLab state; "" when no op changed it

	lastHook        *delivery
	lastInteraction *interaction
	interactions    []*interaction
	log             []string
}

func (r *report) logf(format string, args ...any) {
	r.log = append(r.log, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
}

type driver struct {
	cfg     Config
	w       *World
	env     *e2e.Env
	started atomic.Int64
	killc   chan int
	http    *http.Client
}

// Run drives sdesk through the plan, then turns the proxies calm and waits
// (at most Settle) until the checks pass on the fakes' state and the
// proxies are quiet. It returns what was done; call World.Check for the
// verdict. It stops when ctx is done.
func Run(ctx context.Context, cfg Config) *World {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 2 * time.Minute
	}
	if cfg.Settle <= 0 {
		cfg.Settle = time.Minute
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	env := cfg.Env
	w := &World{
		Plan:    cfg.Plan,
		project: Project{ID: env.GitLab.ProjectID(), Path: env.GitLab.ProjectPath(), Base: env.GitLab.URL()},
		started: time.Now(),
	}
	for _, op := range cfg.Plan.Ops {
		if op.Kind == OpReport {
			w.reports = append(w.reports, &report{idx: op.Report, op: op, user: reporters[op.Variant%Reporters], notes: map[int]*note{}})
		}
	}
	d := &driver{cfg: cfg, w: w, env: env, killc: make(chan int, len(cfg.KillAt)), http: &http.Client{Timeout: 30 * time.Second}}

	var kills sync.WaitGroup
	kills.Add(1)
	go func() {
		defer kills.Done()
		for n := range d.killc {
			start := time.Now()
			what, err := cfg.Kill(ctx)
			line := fmt.Sprintf("kill at op %d: %s; up again after %s", n, what, time.Since(start).Round(time.Millisecond))
			if err != nil {
				line = fmt.Sprintf("kill at op %d: %s: %v", n, what, err)
			}
			logf("%s", line)
			w.mu.Lock()
			w.kills = append(w.kills, line)
			w.mu.Unlock()
		}
	}()

	var wg sync.WaitGroup
	for wk := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, op := range cfg.Plan.Ops {
				if op.Report%cfg.Workers != wk {
					continue
				}
				if ctx.Err() != nil {
					return
				}
				d.start(op)
				d.do(ctx, op)
			}
		}()
	}
	wg.Wait()
	close(d.killc)
	kills.Wait()
	logf("chaos: %d ops done in %s; faults off, settling", len(cfg.Plan.Ops), time.Since(w.started).Round(time.Millisecond))

	for _, p := range cfg.Proxies {
		p.SetRate(0)
	}
	settle := time.Now()
	deadline := settle.Add(cfg.Settle)
	left := -1
	for time.Now().Before(deadline) && ctx.Err() == nil {
		quiet := true
		for _, p := range cfg.Proxies {
			quiet = quiet && p.Idle(1500*time.Millisecond)
		}
		left = len(w.Check(Capture(env, w)).Violations)
		if quiet && left == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	logf("chaos: settled for %s; %d violations left", time.Since(settle).Round(time.Millisecond), left)
	w.ended = time.Now()
	return w
}

// start counts an op as started and triggers the kills due.
func (d *driver) start(op Op) {
	n := d.started.Add(1)
	for _, k := range d.cfg.KillAt {
		if int64(k) == n && d.cfg.Kill != nil {
			d.killc <- int(n)
		}
	}
}

func (d *driver) do(ctx context.Context, op Op) {
	r := d.w.reports[op.Report]
	if op.Kind != OpReport && r.dead != "" {
		r.logf("%s: skipped (%s)", op, r.dead)
		return
	}
	var err error
	switch op.Kind {
	case OpReport:
		err = d.report(ctx, r, op)
	case OpReply:
		err = d.reply(ctx, r, op)
	case OpClose:
		err = d.closeFromDiscord(ctx, r, op)
	case OpNote:
		err = d.note(ctx, r, op, op.N, StaffA)
	case OpInternal:
		err = d.internal(ctx, r, op)
	case OpEdit:
		err = d.edit(ctx, r, op)
	case OpLabels:
		err = d.labels(ctx, r, op)
	case OpTitle:
		err = d.retitle(ctx, r, op)
	case OpStaffClose, OpReopen:
		err = d.staffState(ctx, r, op)
	case OpDuplicate:
		err = d.duplicate(ctx, r, op)
	case OpReplay:
		err = d.replay(ctx, r, op)
	}
	if err != nil {
		r.logf("%s: %v", op, err)
	}
}

// interact sends a new interaction until sdesk answers it (retrying the
// same signed bytes while the process is down, as a replay would) or its
// signature gets too old.
func (d *driver) interact(ctx context.Context, r *report, op Op, what string, in e2e.Interaction) *interaction {
	it := &interaction{op: op.N, what: what, in: in, header: d.env.Sign(in.Body), signed: time.Now()}
	r.interactions = append(r.interactions, it)
	r.lastInteraction = it
	d.send(ctx, it)
	switch {
	case it.accepted:
		r.logf("%s: %s %s accepted (attempts %d)", op, what, in.ID, it.attempts)
	case it.refusal != "":
		r.logf("%s: %s %s refused: %s", op, what, in.ID, it.refusal)
	default:
		r.logf("%s: %s %s got no answer: %s", op, what, in.ID, strings.Join(it.errs, "; "))
	}
	return it
}

// send posts an interaction's signed bytes until an answer comes.
func (d *driver) send(ctx context.Context, it *interaction) {
	for ctx.Err() == nil && time.Since(it.signed) < replayWindow {
		it.attempts++
		actx, cancel := context.WithTimeout(ctx, AckLimit+2*time.Second)
		start := time.Now()
		status, body, err := d.cfg.Target.Interact(actx, it.in.Body, it.header)
		cancel()
		took := time.Since(start)
		d.w.mu.Lock()
		d.w.hooks.ackAttempts++
		if err == nil && status == http.StatusOK {
			d.w.hooks.acks++
			if took > AckLimit {
				d.w.hooks.slow++
			}
		}
		d.w.mu.Unlock()
		if err == nil && status == http.StatusOK {
			var a struct {
				Type int `json:"type"`
				Data struct {
					Content string `json:"content"`
				} `json:"data"`
			}
			if jerr := json.Unmarshal(body, &a); jerr != nil {
				it.refusal = "undecodable answer: " + string(body)
				return
			}
			if a.Type == 5 {
				it.accepted = true
				return
			}
			it.refusal = fmt.Sprintf("type %d %q", a.Type, a.Data.Content)
			return
		}
		if err != nil {
			it.errs = append(it.errs, err.Error())
		} else {
			it.errs = append(it.errs, fmt.Sprintf("HTTP %d", status))
		}
		if len(it.errs) > 5 {
			it.errs = it.errs[len(it.errs)-5:]
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// poll calls cond until it holds, ctx ends or d passes.
func poll(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

// uuid is a UUID-shaped key derived from the seed and parts, so that a
// plan's deliveries carry the same keys in every run of its seed.
func (d *driver) uuid(parts ...any) string {
	h := sha256.Sum256(fmt.Appendf(nil, "sdesk-chaos-key|%d|%v", d.w.Plan.Seed, parts))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-4" + x[13:16] + "-8" + x[17:20] + "-" + x[20:32]
}

// deliver sends a hook under count fresh Idempotency-Keys at once and
// makes it the report's last delivery.
func (d *driver) deliver(ctx context.Context, r *report, op Op, what string, h Hook, count int) *delivery {
	dl := &delivery{op: op.N, what: what, hook: h}
	r.lastHook = dl
	d.sendHook(ctx, r, op, dl, count)
	return dl
}

// sendHook delivers dl under count new keys at once; each key is resent
// (GitLab's "Resend request") until sdesk answers 2xx.
func (d *driver) sendHook(ctx context.Context, r *report, op Op, dl *delivery, count int) {
	keys := make([]string, count)
	for i := range keys {
		keys[i] = d.uuid("delivery", op.N, dl.what, len(dl.keys)+i)
	}
	dl.keys = append(dl.keys, keys...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, attempts, errs := d.post(ctx, dl.hook, key)
			mu.Lock()
			defer mu.Unlock()
			dl.delivered = dl.delivered || ok
			dl.attempts += attempts
			dl.errs = append(dl.errs, errs...)
		}()
	}
	wg.Wait()
	state := "delivered"
	if !dl.delivered {
		state = "NOT delivered: " + strings.Join(dl.errs, "; ")
	}
	r.logf("%s: hook %s (%s) x%d %s, %d attempts in all, keys %s", op, dl.what, dl.hook.Event, count, state, dl.attempts, strings.Join(keys, ","))
}

// post delivers one hook under one key until a 2xx answer, for at most
// two minutes.
func (d *driver) post(ctx context.Context, h Hook, key string) (ok bool, attempts int, errs []string) {
	deadline := time.Now().Add(2 * time.Minute)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		attempts++
		hdr := http.Header{}
		hdr.Set("Content-Type", "application/json")
		hdr.Set("User-Agent", "GitLab/17.8.1")
		hdr.Set("X-Gitlab-Event", h.Event)
		hdr.Set("X-Gitlab-Token", e2e.WebhookSecret)
		hdr.Set("X-Gitlab-Instance", d.w.project.Base)
		hdr.Set("X-Gitlab-Webhook-UUID", d.uuid("webhook"))
		hdr.Set("X-Gitlab-Event-UUID", d.uuid("event-uuid", key, attempts))
		hdr.Set("Idempotency-Key", key)
		hctx, cancel := context.WithTimeout(ctx, HookLimit)
		start := time.Now()
		status, err := d.cfg.Target.Webhook(hctx, h.Body, hdr)
		cancel()
		took := time.Since(start)
		d.w.mu.Lock()
		d.w.hooks.attempts++
		if errors.Is(err, context.DeadlineExceeded) || took >= HookLimit {
			d.w.hooks.late++
		}
		d.w.mu.Unlock()
		if err == nil && status/100 == 2 {
			d.w.mu.Lock()
			d.w.hooks.deliveries++
			d.w.mu.Unlock()
			return true, attempts, errs
		}
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			errs = append(errs, "HTTP "+strconv.Itoa(status))
		}
		sleep(ctx, 300*time.Millisecond)
	}
	d.w.mu.Lock()
	d.w.hooks.failed++
	d.w.mu.Unlock()
	return false, attempts, errs
}

var answerRE = regexp.MustCompile(`^Issue #(\d+) created — continue in <#(\d+)>`)

func (d *driver) report(ctx context.Context, r *report, op Op) error {
	r.title = fmt.Sprintf("Report %s printer jams", op.Token())
	desc := fmt.Sprintf("Report %s: the printer jams on page two. Steps: print twice.", op.Token())
	in := d.env.ModalSubmit(r.user, e2e.ChannelID, "report", map[string]string{"title": r.title, "description": desc})
	r.submit = d.interact(ctx, r, op, "report", in)
	if !r.submit.accepted {
		r.dead = "the report was not accepted"
		return nil
	}
	marker := "interaction=" + in.ID
	if op.Early {
		var is gitlabfake.Issue
		found := poll(ctx, d.cfg.Wait, func() bool {
			for _, i := range d.env.GitLab.Issues() {
				if strings.Contains(i.Description, marker) {
					is = i
					return true
				}
			}
			return false
		})
		if !found {
			r.logf("%s: the issue did not appear within %s; no early note", op, d.cfg.Wait)
		} else {
			r.iid = is.IID
			d.openHook(ctx, r, op, is)
			if err := d.note(ctx, r, op, op.N, StaffB); err != nil {
				return err
			}
		}
	}
	var answer string
	ok := poll(ctx, d.cfg.Wait, func() bool {
		m, ok := d.env.Discord.OriginalResponse(in.Token)
		answer = m.Content
		return ok && (answerRE.MatchString(answer) || strings.HasPrefix(answer, "Sorry"))
	})
	sub := answerRE.FindStringSubmatch(answer)
	if !ok || sub == nil {
		r.dead = fmt.Sprintf("no report answer within %s (last %q)", d.cfg.Wait, answer)
		return nil
	}
	iid, _ := strconv.Atoi(sub[1])
	if r.iid != 0 && r.iid != iid {
		r.logf("%s: the answer names issue #%d, the early note went to #%d", op, iid, r.iid)
	}
	r.iid, r.thread = iid, sub[2]
	r.logf("%s: answered: issue #%d, thread %s", op, iid, r.thread)
	is, ok := d.env.GitLab.Issue(iid)
	if !ok {
		r.dead = fmt.Sprintf("the answer names issue #%d, which does not exist", iid)
		return nil
	}
	if !op.Early {
		d.openHook(ctx, r, op, is)
	}
	// sdesk wrote the thread link into the description: GitLab tells.
	h, err := IssueHook(d.w.project, is, IssueSpec{Action: "update", Actor: Bot, PrevUpdated: is.CreatedAt,
		Changes: map[string]any{"description": Change("", is.Description)}})
	if err != nil {
		return err
	}
	d.deliver(ctx, r, op, "description", h, 1)
	return nil
}

// openHook delivers the issue's open event, authored by sdesk.
func (d *driver) openHook(ctx context.Context, r *report, op Op, is gitlabfake.Issue) {
	h, err := IssueHook(d.w.project, is, IssueSpec{Action: "open", Actor: Bot, Changes: OpenChanges(d.w.project, is)})
	if err != nil {
		r.logf("%s: open hook: %v", op, err)
		return
	}
	d.deliver(ctx, r, op, "open", h, 1)
}

func (d *driver) actor(op Op) e2e.User {
	if op.Staff {
		return e2e.Staff
	}
	return d.w.reports[op.Report].user
}

func (d *driver) reply(ctx context.Context, r *report, op Op) error {
	tok := op.Token()
	text := fmt.Sprintf("Reply %s: it still jams after a restart.", tok)
	u := d.actor(op)
	var in e2e.Interaction
	if op.Variant%2 == 0 {
		in = d.env.Command(u, r.thread, "reply", map[string]string{"message": text})
	} else {
		in = d.env.ModalSubmit(u, r.thread, "replyto/"+strconv.Itoa(r.iid), map[string]string{"message": text})
	}
	rp := &reply{op: op.N, token: tok}
	rp.in = d.interact(ctx, r, op, "reply", in)
	r.replies = append(r.replies, rp)
	if !rp.in.accepted {
		return nil
	}
	// sdesk's note reaches GitLab; GitLab sends its note hook (authored by
	// sdesk's user, which sdesk must not echo).
	var found []gitlabfake.Note
	var is gitlabfake.Issue
	poll(ctx, d.cfg.Wait, func() bool {
		is, _ = d.env.GitLab.Issue(r.iid)
		found = found[:0]
		for _, n := range is.Notes {
			if strings.Contains(n.Body, "Reply "+tok) {
				found = append(found, n)
			}
		}
		return len(found) > 0
	})
	if len(found) == 0 {
		r.logf("%s: no note for %s within %s", op, tok, d.cfg.Wait)
		return nil
	}
	for _, n := range found {
		h, err := NoteHook(d.w.project, is, NoteSpec{ID: n.ID, Body: n.Body, Author: Bot, Actor: Bot, Action: "create", Created: n.CreatedAt, Updated: n.UpdatedAt})
		if err != nil {
			return err
		}
		d.deliver(ctx, r, op, "own note "+strconv.Itoa(n.ID), h, 1)
	}
	return nil
}

func (d *driver) closeFromDiscord(ctx context.Context, r *report, op Op) error {
	u := d.actor(op)
	var in e2e.Interaction
	if op.Variant%2 == 0 {
		in = d.env.Command(u, r.thread, "close", nil)
	} else {
		in = d.env.Button(u, r.thread, "close/"+strconv.Itoa(r.iid))
	}
	before, _ := d.env.GitLab.Issue(r.iid)
	it := d.interact(ctx, r, op, "close", in)
	if !it.accepted {
		return nil
	}
	r.state = "closed"
	var is gitlabfake.Issue
	if !poll(ctx, d.cfg.Wait, func() bool { is, _ = d.env.GitLab.Issue(r.iid); return is.State == "closed" }) {
		r.logf("%s: issue #%d not closed within %s", op, r.iid, d.cfg.Wait)
		return nil
	}
	return d.stateHook(ctx, r, op, is, before.UpdatedAt, "close", Bot)
}

// stateHook delivers a close or reopen event and expects its message.
func (d *driver) stateHook(ctx context.Context, r *report, op Op, is gitlabfake.Issue, prev time.Time, action string, actor GitLabUser) error {
	closedAt := hookTime(is.UpdatedAt)
	changes := map[string]any{"closed_at": Change(nil, closedAt), "state_id": Change(1, 2)}
	if action == "reopen" {
		changes = map[string]any{"closed_at": Change(hookTime(prev), nil), "state_id": Change(2, 1)}
	}
	h, err := IssueHook(d.w.project, is, IssueSpec{Action: action, Actor: actor, Changes: changes, PrevUpdated: prev, WorkItem: op.WorkItem})
	if err != nil {
		return err
	}
	if dl := d.deliver(ctx, r, op, action, h, twice(op)); dl.delivered {
		r.expects = append(r.expects, expect{op: op.N, sig: action})
	}
	return nil
}

func twice(op Op) int {
	if op.Twice {
		return 2
	}
	return 1
}

// noteText is the text of a note's version: "Note N0007: …" first, then
// "Note N0007 (E0015): …" after the edit of op 15.
func noteText(noteTok, version string) string {
	if noteTok == version {
		return fmt.Sprintf("Note %s: could you send the printer model?", noteTok)
	}
	return fmt.Sprintf("Note %s (%s): could you send the model and the serial number?", noteTok, version)
}

// note adds a public note by author (op n's note) and delivers its hook.
func (d *driver) note(ctx context.Context, r *report, op Op, n int, author GitLabUser) error {
	tok := fmt.Sprintf("N%04d", n)
	id, ok := d.env.GitLab.AddNote(r.iid, author.ID, noteText(tok, tok), false)
	if !ok {
		return fmt.Errorf("add note: issue #%d does not exist", r.iid)
	}
	is, _ := d.env.GitLab.Issue(r.iid)
	nt := &note{id: id, author: author, versions: []string{tok}}
	for _, x := range is.Notes {
		if x.ID == id {
			nt.created, nt.updated = x.CreatedAt, x.UpdatedAt
		}
	}
	r.notes[n] = nt
	h, err := NoteHook(d.w.project, is, NoteSpec{ID: id, Body: noteText(tok, tok), Author: author, Actor: author, Action: "create", Created: nt.created, Updated: nt.updated})
	if err != nil {
		return err
	}
	if dl := d.deliver(ctx, r, op, "note "+tok, h, twice(op)); dl.delivered {
		r.expects = append(r.expects, expect{op: n, sig: "note " + tok})
	}
	return nil
}

func (d *driver) internal(ctx context.Context, r *report, op Op) error {
	tok := op.Token()
	body := fmt.Sprintf("Internal %s: legacy plan, do not promise a replacement.", tok)
	id, ok := d.env.GitLab.AddNote(r.iid, StaffB.ID, body, true)
	if !ok {
		return fmt.Errorf("add internal note: issue #%d does not exist", r.iid)
	}
	is, _ := d.env.GitLab.Issue(r.iid)
	h, err := NoteHook(d.w.project, is, NoteSpec{ID: id, Body: body, Internal: true, Author: StaffB, Actor: StaffB, Action: "create", Created: is.UpdatedAt, Updated: is.UpdatedAt})
	if err != nil {
		return err
	}
	d.deliver(ctx, r, op, "internal "+tok, h, twice(op))
	return nil
}

func (d *driver) edit(ctx context.Context, r *report, op Op) error {
	nt := r.notes[op.Note]
	if nt == nil {
		return fmt.Errorf("note of op %d was not made", op.Note)
	}
	editor := nt.author
	if op.Staff {
		editor = StaffA
		if nt.author == StaffA {
			editor = StaffB
		}
	}
	nt.updated = nt.updated.Add(time.Minute)
	is, _ := d.env.GitLab.Issue(r.iid)
	body := noteText(nt.versions[0], op.Token())
	h, err := NoteHook(d.w.project, is, NoteSpec{ID: nt.id, Body: body, Author: nt.author, Actor: editor, Action: "update", Created: nt.created, Updated: nt.updated})
	if err != nil {
		return err
	}
	if dl := d.deliver(ctx, r, op, "edit "+op.Token()+" of "+nt.versions[0], h, twice(op)); dl.delivered {
		nt.versions = append(nt.versions, op.Token())
		nt.editors = append(nt.editors, editor)
	}
	return nil
}

// updateIssue changes the issue in the GitLab fake as staff does in
// GitLab's UI (directly, not through the faulty proxy).
func (d *driver) updateIssue(ctx context.Context, iid int, params url.Values) error {
	u := fmt.Sprintf("%s/api/v4/projects/%d/issues/%d", d.env.GitLab.URL(), d.env.GitLab.ProjectID(), iid)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, strings.NewReader(params.Encode()))
	if err != nil {
		return fmt.Errorf("update issue: %w", err)
	}
	req.Header.Set("PRIVATE-TOKEN", d.env.GitLab.Token())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("update issue: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("update issue #%d: HTTP %d %s", iid, resp.StatusCode, b)
	}
	return nil
}

func (d *driver) labels(ctx context.Context, r *report, op Op) error {
	before, _ := d.env.GitLab.Issue(r.iid)
	labels := append(slices.DeleteFunc(slices.Clone(before.Labels), func(l string) bool { return strings.HasPrefix(l, "L") }), op.Token())
	if err := d.updateIssue(ctx, r.iid, url.Values{"labels": {strings.Join(labels, ",")}}); err != nil {
		return err
	}
	is, _ := d.env.GitLab.Issue(r.iid)
	h, err := IssueHook(d.w.project, is, IssueSpec{Action: "update", Actor: StaffA, PrevUpdated: before.UpdatedAt, WorkItem: op.WorkItem,
		Changes: map[string]any{"labels": Change(Labels(d.w.project, before.Labels), Labels(d.w.project, is.Labels))}})
	if err != nil {
		return err
	}
	if dl := d.deliver(ctx, r, op, "labels "+op.Token(), h, twice(op)); dl.delivered {
		r.expects = append(r.expects, expect{op: op.N, sig: "labels " + op.Token()})
	}
	return nil
}

func (d *driver) retitle(ctx context.Context, r *report, op Op) error {
	before, _ := d.env.GitLab.Issue(r.iid)
	title := fmt.Sprintf("Report %s printer jams (%s)", r.op.Token(), op.Token())
	if err := d.updateIssue(ctx, r.iid, url.Values{"title": {title}}); err != nil {
		return err
	}
	r.title = title
	is, _ := d.env.GitLab.Issue(r.iid)
	h, err := IssueHook(d.w.project, is, IssueSpec{Action: "update", Actor: StaffB, PrevUpdated: before.UpdatedAt, WorkItem: op.WorkItem,
		Changes: map[string]any{"title": Change(before.Title, title)}})
	if err != nil {
		return err
	}
	if dl := d.deliver(ctx, r, op, "title "+op.Token(), h, twice(op)); dl.delivered {
		r.expects = append(r.expects, expect{op: op.N, sig: "title " + op.Token()})
	}
	return nil
}

func (d *driver) staffState(ctx context.Context, r *report, op Op) error {
	action, event, state := "close", "close", "closed"
	if op.Kind == OpReopen {
		action, event, state = "reopen", "reopen", "opened"
	}
	before, _ := d.env.GitLab.Issue(r.iid)
	if before.State == state {
		r.logf("%s: issue #%d is %s already; nothing to do", op, r.iid, state)
		return nil
	}
	if err := d.updateIssue(ctx, r.iid, url.Values{"state_event": {event}}); err != nil {
		return err
	}
	r.state = state
	is, _ := d.env.GitLab.Issue(r.iid)
	return d.stateHook(ctx, r, op, is, before.UpdatedAt, action, StaffA)
}

func (d *driver) duplicate(ctx context.Context, r *report, op Op) error {
	dl := r.lastHook
	if dl == nil {
		r.logf("%s: no delivery to repeat", op)
		return nil
	}
	d.sendHook(ctx, r, op, dl, twice(op))
	return nil
}

func (d *driver) replay(ctx context.Context, r *report, op Op) error {
	it := r.lastInteraction
	if it == nil || time.Since(it.signed) > replayWindow-30*time.Second {
		r.logf("%s: no interaction young enough to replay", op)
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range twice(op) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rp := &interaction{op: op.N, what: "replay of " + it.what, in: it.in, header: it.header, signed: it.signed}
			d.send(ctx, rp)
			outcome := "accepted"
			if !rp.accepted {
				outcome = "not accepted: " + rp.refusal + strings.Join(rp.errs, "; ")
			}
			mu.Lock()
			r.logf("%s: replay %d of %s %s %s", op, i+1, it.what, it.in.ID, outcome)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return nil
}
