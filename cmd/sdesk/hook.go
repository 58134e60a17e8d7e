package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sdesk/sdesk/pkg/app"
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
	// pass-file-to-command gives it: for a body over Linux's 128 KiB limit
	// of one argument.
	envHookFile = "SDESK_HOOK_FILE"
)

const hookUsage = `usage: sdesk hook [flags] PAYLOAD | - | -file PATH (or $SDESK_HOOK_FILE)

Handles one GitLab webhook body as POST /gitlab does once the delivery is
authenticated: the token check is the caller's (adnanh/webhook's trigger
rule, docs/hooks.json), and GITLAB_WEBHOOK_SIGNING_TOKEN is not checked.
PAYLOAD is the JSON body (adnanh/webhook's "entire-payload"); - reads it
from standard input. Work that does not finish within the webhook budget
runs before the command ends. Configuration comes from the environment
and .env, as for serve.

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
	timeout := fs.Duration("timeout", 5*time.Minute, "most time for the event, its deferred work included")
	if err := fs.Parse(args); err != nil {
		return err
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
	// The delivery was authenticated by the caller, and adnanh/webhook
	// passes a re-encoded body, over which no signature could verify.
	cfg.GitLabWebhookSigningToken = ""
	q := &hookQueue{}
	a, err := m.wireConfig(ctx, cfg, app.Serve, m.adminLogger, app.WithTuning(func(a *app.App) { a.Service.Queue = q }))
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
	req.Header.Set("X-Gitlab-Token", cfg.GitLabWebhookSecret)
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
	switch rec.status {
	case http.StatusOK:
	case http.StatusBadRequest:
		return errors.New("hook: the payload is not a GitLab webhook body sdesk can read (see the log above; SDESK_LOG_LEVEL=info shows why)")
	case http.StatusRequestEntityTooLarge:
		return fmt.Errorf("hook: the payload is over %d MiB", httpapi.MaxWebhookBody>>20)
	case http.StatusServiceUnavailable:
		return fmt.Errorf("hook: the event could not be stored or queued (error reference %s in the log); run the hook again with the same payload", answer.Ref)
	default:
		return fmt.Errorf("hook: unexpected answer %d", rec.status)
	}
	if answer.Status == "ignored" {
		fmt.Fprintln(m.Stdout, "ignored (not an event sdesk handles, or another project's)")
		return nil
	}
	if err := q.drain(ctx, a.Service, m.Stderr); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "handled")
	return nil
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
