package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Project is the GitLab project webhooks come from.
type Project struct {
	ID   int
	Path string // group/project
	Web  string // GitLab's base URL
}

// NoteHook is the body of a Note Hook delivery
// (https://docs.gitlab.com/user/project/integrations/webhook_events/#comment-events):
// a comment of note noteID by a staff member (user 501) on confidential
// issue iid of p, with Markdown and a link for sdesk to render.
func NoteHook(p Project, iid, noteID int) []byte {
	issueURL := fmt.Sprintf("%s/%s/-/issues/%d", p.Web, p.Path, iid)
	b, _ := json.Marshal(map[string]any{ // plain maps and strings: cannot fail
		"object_kind": "note", "event_type": "confidential_note",
		"user":    map[string]any{"id": 501, "name": "Ada Lovelace", "username": "ada", "avatar_url": p.Web + "/a.png"},
		"project": map[string]any{"id": p.ID, "path_with_namespace": p.Path, "web_url": p.Web + "/" + p.Path},
		"object_attributes": map[string]any{
			"id": noteID, "note": fmt.Sprintf("Comment %d: could you **try again** after the [update](https://status.example.com/incidents/42) and send `sdesk.log`?", noteID),
			"noteable_type": "Issue", "internal": false, "action": "create", "author_id": 501, "system": false,
			"created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z",
			"url": issueURL + "#note_" + strconv.Itoa(noteID),
		},
		"issue": map[string]any{"id": 90000 + iid, "iid": iid, "title": "Bench " + strconv.Itoa(iid), "confidential": true, "state": "opened"},
	})
	return b
}

// Outcome is what one request got.
type Outcome struct {
	Latency time.Duration
	Status  int // 0 when no answer came
	Body    []byte
	Err     error
}

// NewHTTPClient returns a client that keeps up to conns connections per
// host open (net/http keeps 2 by default: more concurrent requests would
// each dial anew).
func NewHTTPClient(conns int, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: tr, Timeout: timeout}
}

// Post sends one POST and times it until the whole answer is read.
func Post(ctx context.Context, c *http.Client, url string, header http.Header, body []byte) Outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Outcome{Err: fmt.Errorf("build request: %w", err)}
	}
	req.Header = header
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return Outcome{Latency: time.Since(start), Err: err}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	o := Outcome{Latency: time.Since(start), Status: resp.StatusCode, Body: b}
	if err != nil {
		o.Err = fmt.Errorf("read answer: %w", err)
	}
	return o
}

// HookHeader is the header of a GitLab webhook delivery: the event, the
// secret token and an Idempotency-Key of its own.
func HookHeader(event, token, key string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Gitlab-Event", event)
	h.Set("X-Gitlab-Token", token)
	h.Set("Idempotency-Key", key)
	return h
}

// Deliver posts bodies to url, each with the header that header(i)
// returns, concurrency requests at a time, and returns the outcomes (in
// the order of bodies) and the wall time from the first request to the
// last answer.
func Deliver(ctx context.Context, c *http.Client, url string, bodies [][]byte, header func(i int) http.Header, concurrency int) ([]Outcome, time.Duration) {
	out := make([]Outcome, len(bodies))
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range max(concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = Post(ctx, c, url, header(i), bodies[i])
			}
		}()
	}
	for i := range bodies {
		select {
		case next <- i:
		case <-ctx.Done():
			out[i] = Outcome{Err: ctx.Err()}
			continue
		}
	}
	close(next)
	wg.Wait()
	return out, time.Since(start)
}
