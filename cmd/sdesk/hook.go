package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/httpapi"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// The headers of a GitLab delivery, as adnanh/webhook passes them to
// `sdesk hook` (pass-environment-to-command, source "header"; see
// docs/hooks.json). Each has a flag of the same meaning, which wins.
const (
	// envHookEvent is X-Gitlab-Event ("Note Hook", "Confidential Issue
	// Hook", …). Without it, the event is named from the body's
	// object_kind.
	envHookEvent = "SDESK_HOOK_EVENT"
	// envHookEventUUID is X-Gitlab-Event-UUID: logged only.
	envHookEventUUID = "SDESK_HOOK_EVENT_UUID"
	// envHookIdempotencyKey is Idempotency-Key: logged only. An event's
	// identity (what makes it delivered once) comes from the body, the
	// same under `sdesk hook` and POST /gitlab (docs/ARCHITECTURE.md,
	// "Event identity").
	envHookIdempotencyKey = "SDESK_HOOK_IDEMPOTENCY_KEY"
	// envHookFile names a file holding the body, as adnanh/webhook's
	// pass-file-to-command gives it (docs/hooks.json): no argument limit
	// (Linux refuses one argument over 128 KiB).
	envHookFile = "SDESK_HOOK_FILE"
	// envHookToken is the X-Gitlab-Token header the delivery carried. The
	// hook checks it against GITLAB_WEBHOOK_SECRET as POST /gitlab does
	// (constant time) and refuses the delivery without it: it never
	// vouches for a request itself.
	envHookToken = "SDESK_HOOK_TOKEN"
	// envHookTokenFile names a file holding that header, as
	// docs/hooks.json passes it (pass-file-to-command): webhook's verbose
	// log prints the variables it passes, but only the names of files.
	envHookTokenFile = "SDESK_HOOK_TOKEN_FILE"
)

// hookVars are the variables `sdesk hook` reads besides the configuration.
var hookVars = []string{envHookEvent, envHookEventUUID, envHookIdempotencyKey, envHookFile, envHookToken, envHookTokenFile}

const hookUsage = `usage: sdesk hook [flags] PAYLOAD | - | -file PATH (or $SDESK_HOOK_FILE)

Handles one GitLab webhook delivery as POST /gitlab does: its X-Gitlab-Token
header (-token, else $SDESK_HOOK_TOKEN, else the file $SDESK_HOOK_TOKEN_FILE
names, as docs/hooks.json passes it) must equal GITLAB_WEBHOOK_SECRET, or
nothing is delivered. GITLAB_WEBHOOK_SIGNING_TOKEN is not checked
(adnanh/webhook re-encodes the body). PAYLOAD is the JSON body; - reads it
from standard input; -file (adnanh/webhook's pass-file-to-command,
docs/hooks.json) from a file. Work that does not finish within the webhook
budget runs before the command ends. It prints handled or ignored and
exits 0, or exits non-zero with the reason. Configuration comes from the
environment and .env, as for serve.

Flags:
`

// hook runs `sdesk hook`.
func (m *Main) hook(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hook", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), hookUsage)
		fs.PrintDefaults()
	}
	event := fs.String("event", m.Getenv(envHookEvent), "the X-Gitlab-Event header (default $"+envHookEvent+", else named from the body's object_kind)")
	uuid := fs.String("event-uuid", m.Getenv(envHookEventUUID), "the X-Gitlab-Event-UUID header, for the log (default $"+envHookEventUUID+")")
	key := fs.String("idempotency-key", m.Getenv(envHookIdempotencyKey), "the Idempotency-Key header, for the log (default $"+envHookIdempotencyKey+")")
	file := fs.String("file", m.Getenv(envHookFile), "read the body from this file instead of an argument (default $"+envHookFile+", adnanh/webhook's pass-file-to-command)")
	// The token's default is read after parsing: -h must not print it.
	token := fs.String("token", "", "the delivery's X-Gitlab-Token header, checked against GITLAB_WEBHOOK_SECRET, for a run by hand (other users see it in ps: prefer $"+
		envHookToken+"; default $"+envHookToken+", else the content of the file $"+envHookTokenFile+" names, as docs/hooks.json passes it)")
	timeout := fs.Duration("timeout", 5*time.Minute, "most time for the event, its deferred work included")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		*token = m.Getenv(envHookToken)
	}
	if path := m.Getenv(envHookTokenFile); *token == "" && path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("hook: read the X-Gitlab-Token file %s names (nothing was delivered): %w", envHookTokenFile, err)
		}
		*token = string(b)
	}
	if *token == "" {
		return errors.New("hook: the delivery carries no X-Gitlab-Token, so nothing was delivered: docs/hooks.json has adnanh/webhook " +
			"pass the header in a file named by " + envHookTokenFile + "; by hand, give the webhook's secret in " + envHookToken + " (or -token)")
	}
	body, err := m.hookBody(fs.Args(), *file)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*event) == "" {
		*event = eventFromBody(body)
	}

	cfg, err := m.load()
	if err != nil {
		return err
	}
	// adnanh/webhook passes a re-encoded body, over which no signature
	// could verify; the token is checked as POST /gitlab checks it.
	cfg.GitLabWebhookSigningToken = ""
	q := &hookQueue{}
	out := &outcomeHandler{state: &outcomeState{}}
	logger := func(cfg config.Config) *slog.Logger {
		l := m.adminLogger(cfg)
		out.Handler = l.Handler()
		return slog.New(out)
	}
	a, err := m.wireConfig(ctx, cfg, app.Serve, logger, app.WithTuning(func(a *app.App) { a.Service.Queue = q }))
	if err != nil {
		return err
	}
	defer a.Close()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/gitlab", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gitlab-Token", *token)
	req.Header.Set("X-Gitlab-Event", strings.TrimSpace(*event))
	if v := strings.TrimSpace(*uuid); v != "" {
		req.Header.Set("X-Gitlab-Event-UUID", v)
	}
	if v := strings.TrimSpace(*key); v != "" {
		req.Header.Set("Idempotency-Key", v)
	}
	rec := &hookResponse{header: http.Header{}}
	a.Handler.ServeHTTP(rec, req)

	var answer struct {
		Status string `json:"status"`
		Ref    string `json:"ref"`
	}
	_ = json.Unmarshal(rec.body.Bytes(), &answer) // the handler always answers JSON
	reason, attrs := out.state.outcome()
	switch rec.status {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return errors.New("hook: the delivery's X-Gitlab-Token (-token, " + envHookToken + " or the file " + envHookTokenFile +
			" names) is not GITLAB_WEBHOOK_SECRET, so nothing was delivered: set the GitLab webhook's Secret token to GITLAB_WEBHOOK_SECRET")
	case http.StatusBadRequest:
		msg := "hook: the payload is not a GitLab webhook body sdesk can read"
		if reason != "" {
			msg += ": " + clip(reason, 3*maxShown)
		}
		return errors.New(msg)
	case http.StatusRequestEntityTooLarge:
		return fmt.Errorf("hook: the payload is over %d MiB", httpapi.MaxWebhookBody>>20)
	case http.StatusServiceUnavailable:
		return fmt.Errorf("hook: the event could not be stored or queued (error reference %s, logged above); run the hook again with the same payload", answer.Ref)
	default:
		return fmt.Errorf("hook: unexpected answer %d", rec.status)
	}
	if answer.Status == "ignored" {
		a.Logger.LogAttrs(ctx, slog.LevelInfo, "event ignored", attrs...)
		if reason == "" {
			reason = "not an event sdesk handles, or another project's"
		}
		fmt.Fprintln(m.Stdout, "ignored: "+clip(reason, 3*maxShown))
		return nil
	}
	if err := q.drain(ctx, a.Service, m.Stderr); err != nil {
		return err
	}
	a.Logger.LogAttrs(ctx, slog.LevelInfo, "event handled", attrs...)
	fmt.Fprintln(m.Stdout, "handled")
	return nil
}

// outcomeHandler is the slog.Handler `sdesk hook` wires the App with: the
// HTTP handler's access log line ("request": method, path, status,
// duration, and why a request was refused or ignored) is held back, since
// a status code means little to whoever reads a hook's output, and its
// reason and attributes are kept (outcomeState) for the hook to say the
// outcome in words; every other record passes to the admin logger.
type outcomeHandler struct {
	slog.Handler
	state *outcomeState
}

// outcomeState is what outcomeHandler kept of the request line.
type outcomeState struct {
	mu     sync.Mutex
	reason string      // the "refused" or "ignored" attribute
	attrs  []slog.Attr // the others, but method, path, status and duration_ms
}

// outcome returns the kept reason and attributes.
func (s *outcomeState) outcome() (string, []slog.Attr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason, s.attrs
}

// Handle keeps the request line and passes every other record on.
func (h *outcomeHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "request" {
		if !h.Handler.Enabled(ctx, r.Level) {
			return nil
		}
		return h.Handler.Handle(ctx, r)
	}
	h.state.mu.Lock()
	defer h.state.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "method", "path", "status", "duration_ms":
		case "refused", "ignored":
			h.state.reason = a.Value.String()
		default:
			h.state.attrs = append(h.state.attrs, a)
		}
		return true
	})
	return nil
}

// Enabled lets the request line through whatever the level, so that its
// reason is kept.
func (h *outcomeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.Handler.Enabled(ctx, l)
}

// WithAttrs and WithGroup keep the request line back in derived loggers.
func (h *outcomeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &outcomeHandler{Handler: h.Handler.WithAttrs(as), state: h.state}
}

func (h *outcomeHandler) WithGroup(name string) slog.Handler {
	return &outcomeHandler{Handler: h.Handler.WithGroup(name), state: h.state}
}

// hookBody reads the payload: one argument, "-" for standard input, or the
// file named by -file; at most one byte over the webhook cap is read (the
// handler refuses it).
func (m *Main) hookBody(args []string, file string) ([]byte, error) {
	var r io.Reader
	switch {
	case file != "" && len(args) == 0:
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("hook: %w", err)
		}
		defer f.Close()
		r = f
	case file == "" && len(args) == 1 && args[0] == "-":
		r = m.Stdin
	case file == "" && len(args) == 1:
		r = strings.NewReader(args[0])
	default:
		return nil, errors.New(strings.SplitN(hookUsage, "\n", 2)[0])
	}
	body, err := io.ReadAll(io.LimitReader(r, httpapi.MaxWebhookBody+1))
	if err != nil {
		return nil, fmt.Errorf("hook: read the payload: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("hook: the payload is empty")
	}
	return body, nil
}

// eventFromBody names the X-Gitlab-Event of a body by its object_kind, as
// GitLab names its hooks: "note" → "Note Hook", "issue" and "work_item" →
// "Issue Hook" (GitLab sends work items under the issue hooks),
// "merge_request" → "Merge Request Hook". Which of "Note Hook" and
// "Confidential Note Hook" makes no difference to sdesk. A body without
// object_kind gives "", which the handler refuses as malformed.
func eventFromBody(body []byte) string {
	var b struct {
		ObjectKind string `json:"object_kind"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	kind := strings.TrimSpace(b.ObjectKind)
	switch kind {
	case "":
		return ""
	case "work_item":
		return "Issue Hook"
	}
	words := strings.Split(kind, "_")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ") + " Hook"
}

// hookQueue collects the jobs the handler defers (an event past its budget,
// or behind an earlier event of its issue), for drain to run before the
// command ends: no `sdesk serve` pool runs them.
type hookQueue struct {
	mu   sync.Mutex
	jobs []sdesk.Job
}

// Enqueue implements sdesk.Queue.
func (q *hookQueue) Enqueue(_ context.Context, j sdesk.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, j)
	return nil
}

func (q *hookQueue) pop() (sdesk.Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) == 0 {
		return sdesk.Job{}, false
	}
	j := q.jobs[0]
	q.jobs = q.jobs[1:]
	return j, true
}

// drain runs the queued jobs in order, each until its outcome is recorded
// (done, parked, or failed for good), retrying after 2 s, 8 s, 32 s… as
// serve's pool does, while ctx lasts. A job that failed for good is an
// error naming its reference. Unfinished work stays pending in the store,
// where `sdesk jobs retry` or a resend of the delivery finds it.
func (q *hookQueue) drain(ctx context.Context, svc *sdesk.Service, stderr io.Writer) error {
	for {
		j, ok := q.pop()
		if !ok {
			return nil
		}
		wait := 2 * time.Second
		for {
			err := svc.RunJob(ctx, j)
			if err == nil {
				break
			}
			if stored, gerr := svc.Store.GetJob(ctx, j.ID); gerr == nil && stored.Status != sdesk.JobPending {
				break
			}
			fmt.Fprintf(stderr, "job %s: attempt failed, trying again in %s\n", j.ID, wait)
			select {
			case <-ctx.Done():
				return fmt.Errorf("hook: job %s did not finish in time; it stays pending (sdesk jobs retry %s runs it)", j.ID, j.ID)
			case <-time.After(wait):
			}
			wait = min(wait*4, 5*time.Minute)
		}
		if stored, err := svc.Store.GetJob(ctx, j.ID); err == nil && stored.Status == sdesk.JobFailed {
			return fmt.Errorf("hook: job %s failed for good (error reference %s): %s", j.ID, stored.ErrorRef, stored.Error)
		}
	}
}

// hookResponse is the http.ResponseWriter the handler answers the hook
// through.
type hookResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *hookResponse) Header() http.Header { return r.header }

func (r *hookResponse) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *hookResponse) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
