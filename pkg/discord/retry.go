package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disgoorg/disgo/rest"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Retry tuning.
const (
	// DefaultMaxRetries is used when ClientConfig.MaxRetries is 0.
	DefaultMaxRetries = 4
	// firstBackoff is the wait before the first retry of a 5xx or network
	// error; it doubles with every retry, up to maxBackoff, ±25% jitter.
	firstBackoff = 250 * time.Millisecond
	maxBackoff   = 10 * time.Second
)

// DefaultMaxWait is used when ClientConfig.MaxWait is 0.
const DefaultMaxWait = 30 * time.Second

// Discord JSON error codes the client maps
// (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json).
const (
	codeThreadArchived = 50083
)

// permanentCodes are Discord's error codes that no retry can change, with
// what an operator can do about each and, where a user may be told, why
// in plain words. A call that gets one fails with an sdesk.PermanentError.
var permanentCodes = map[int]struct{ fix, why string }{
	10003:  {"the channel or thread is gone (deleted in Discord); nothing to retry", "the channel is gone"},
	10008:  {"the message is gone (deleted in Discord); nothing to retry", ""},
	10015:  {"the interaction's webhook is gone; nothing to retry", ""},
	10062:  {"the interaction is unknown or expired; nothing to retry", ""},
	50001:  {"give the bot View Channel, Send Messages in Threads and Create Private Threads on the support channel", "the bot may not use the support channel"},
	50013:  {"give the bot Send Messages in Threads, Create Private Threads, Manage Threads, Embed Links and Attach Files on the support channel", "the bot lacks a permission on the support channel"},
	50027:  {"the interaction token expired (tokens live 15 minutes); the user's answer could not be updated, nothing to retry", ""},
	160006: {"the server has reached Discord's limit of 1000 active threads; archive some threads", "the server has too many open threads"},
}

// permanent wraps err as an sdesk.PermanentError when Discord's answer
// cannot change on retry: a code of permanentCodes, or a 403/404 without
// one.
func permanent(err error) error {
	if c, ok := permanentCodes[APICode(err)]; ok {
		return &sdesk.PermanentError{Err: err, Fix: c.fix, Why: c.why}
	}
	switch StatusCode(err) {
	case http.StatusRequestEntityTooLarge:
		// 413, code 40005 "Request entity too large": the files are over
		// the server's upload limit for bots.
		return &sdesk.PermanentError{Err: fmt.Errorf("%w: %w", sdesk.ErrTooLarge, err),
			Fix: "the files are over the server's upload limit; nothing to retry", Why: "the files are too large for this server"}
	case http.StatusForbidden:
		return sdesk.Permanent(err, "Discord refused access; check the bot's permissions on the support channel")
	case http.StatusNotFound:
		return sdesk.Permanent(err, "Discord no longer knows the channel, message or interaction; nothing to retry")
	}
	return err
}

// StatusCode returns the HTTP status of a Discord answer in err's chain
// (a *rest.Error of the API, or a failed attachment download), or 0 when
// err carries none (a network error, a refused call).
func StatusCode(err error) int {
	var re *rest.Error
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	var de *downloadError
	if errors.As(err, &de) {
		return de.status
	}
	return 0
}

// APICode returns Discord's JSON error code (e.g. 10003 Unknown Channel,
// 50083 Thread is archived) of an API error in err's chain, or 0.
func APICode(err error) int {
	var re *rest.Error
	if errors.As(err, &re) {
		return int(re.Code)
	}
	return 0
}

// IsNotFound reports whether err is a Discord 404 (unknown channel,
// message, webhook, interaction token...).
func IsNotFound(err error) bool {
	return StatusCode(err) == http.StatusNotFound
}

// attempt records what one HTTP attempt sent and received; the client's
// transport (recorder) fills it in. disgo returns no status or headers
// with a successful answer, and the rate-limit headers of every answer feed
// the limiter.
type attempt struct {
	sent   bool        // the request reached the transport
	status int         // 0 when no response arrived
	header http.Header // response headers, including the rate-limit ones
}

type attemptKey struct{}

// recorder is the client's transport: it records each request's attempt
// (found in the request's context) and otherwise leaves requests and
// answers alone.
type recorder struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	a, _ := req.Context().Value(attemptKey{}).(*attempt)
	if a != nil {
		a.sent = true
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil && a != nil {
		a.status = resp.StatusCode
		a.header = resp.Header
	}
	return resp, err
}

// limiter keeps the rate-limit state Discord announces in its headers, so
// that a request to an exhausted bucket waits (context-aware) before it is
// sent instead of earning a 429. Buckets are keyed by route and major
// parameter (see the callers of do).
type limiter struct {
	mu      sync.Mutex
	global  time.Time
	buckets map[string]time.Time // key -> exhausted until
}

// wait returns how long a request to key must wait.
func (l *limiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	until := l.global
	if b, ok := l.buckets[key]; ok {
		if !b.After(now) {
			delete(l.buckets, key)
		} else if b.After(until) {
			until = b
		}
	}
	if until.After(now) {
		return until.Sub(now)
	}
	return 0
}

// observe records the rate-limit headers of a response
// (https://discord.com/developers/docs/topics/rate-limits#header-format).
func (l *limiter) observe(key string, a *attempt, retryAfter time.Duration, now time.Time) {
	if a.header == nil {
		return
	}
	h := a.header
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.status == http.StatusTooManyRequests {
		until := now.Add(retryAfter)
		if h.Get("X-RateLimit-Global") == "true" || h.Get("X-RateLimit-Scope") == "global" {
			if until.After(l.global) {
				l.global = until
			}
			return
		}
		l.setBucket(key, until)
		return
	}
	if h.Get("X-RateLimit-Remaining") != "0" {
		return
	}
	if d, ok := parseSeconds(h.Get("X-RateLimit-Reset-After")); ok {
		l.setBucket(key, now.Add(d))
	}
}

func (l *limiter) setBucket(key string, until time.Time) {
	if l.buckets == nil {
		l.buckets = map[string]time.Time{}
	}
	if until.After(l.buckets[key]) {
		l.buckets[key] = until
	}
}

// parseSeconds parses a (fractional) number of seconds as Discord sends in
// Retry-After and X-RateLimit-Reset-After.
func parseSeconds(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 24*3600 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// backoff returns the wait before retry number n (0-based) of a 5xx or
// network error.
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 10 {
		d = min(firstBackoff<<n, maxBackoff)
	}
	return d*3/4 + rand.N(d/2)
}

// call is one Discord call as the retry loop sees it: fn runs one attempt
// with a context that carries the attempt's record (pass it on with
// rest.WithCtx, or as the request's context).
type call struct {
	op     string // for errors and logs, e.g. "send message"
	key    string // rate-limit bucket
	secret string // removed from error texts (an interaction token)
	fn     func(ctx context.Context) error
	// create marks a request that creates something without a way to make
	// it idempotent (a thread): retried only on 429 and when the request was
	// never sent, since a retry after that could create a second one.
	create bool
}

// do runs c with Discord's rate limits and the client's retry policy:
// 429 waits retry_after, 5xx and network errors back off exponentially,
// other errors are returned at once; at most maxRetries retries; no wait
// goes past ctx's deadline. disgo itself neither waits nor retries (its
// rate limiter is a no-op).
func (cl *Client) do(ctx context.Context, c call) error {
	var lastErr error
	for n := 0; ; n++ {
		ahead := cl.limits.wait(c.key, time.Now())
		if ahead > 0 && !cl.mayWait(ctx, ahead) {
			// The bucket is spent for longer than this call may wait
			// (a third thread rename in 10 minutes): do not send it.
			return cl.rateLimited(ctx, c, ahead, lastErr)
		}
		if err := cl.pause(ctx, c, ahead, lastErr, n); err != nil {
			return err
		}
		a := &attempt{}
		err := c.fn(context.WithValue(ctx, attemptKey{}, a))
		retryAfter, isRateLimit := rateLimitWait(err, a)
		cl.limits.observe(c.key, a, retryAfter, time.Now())
		if err == nil {
			return nil
		}
		err = withURL(err)
		lastErr = err
		if ctx.Err() != nil {
			return cl.fail(c, err, n+1)
		}
		var wait time.Duration
		var transient *transientError
		switch {
		case isRateLimit && !cl.mayWait(ctx, retryAfter):
			return cl.rateLimited(ctx, c, retryAfter, err)
		case isRateLimit:
			wait = retryAfter
		case c.create && a.sent:
			return cl.fail(c, err, n+1)
		case a.status >= 500, a.sent && a.status == 0, errors.As(err, &transient):
			wait = backoff(n)
		default:
			return cl.fail(c, err, n+1)
		}
		if n >= cl.maxRetries {
			return cl.fail(c, err, n+1)
		}
		cl.log.LogAttrs(ctx, slog.LevelWarn, "discord request failed, retrying",
			slog.String("op", c.op), slog.Int("attempt", n+1), slog.Int("status", a.status),
			slog.Duration("wait", wait), slog.String("error", redact(err, c.secret).Error()))
		if err := cl.pause(ctx, c, wait, err, n+1); err != nil {
			return err
		}
	}
}

// withURL puts the method and URL of a refused request before Discord's
// answer (disgo's *rest.Error names neither), so errors and logs show the
// configured API base; a network error already names them.
func withURL(err error) error {
	var re *rest.Error
	if errors.As(err, &re) && re.Request != nil && re.Request.URL != nil {
		return fmt.Errorf("%s %s: %w", re.Request.Method, re.Request.URL.Redacted(), err)
	}
	return err
}

// mayWait reports whether a rate-limit wait of d fits: at most the
// client's MaxWait, and not past ctx's deadline.
func (cl *Client) mayWait(ctx context.Context, d time.Duration) bool {
	if d > cl.maxWait {
		return false
	}
	dl, ok := ctx.Deadline()
	return !ok || !time.Now().Add(d).After(dl)
}

// rateLimited is the error of a call whose rate-limit wait does not fit:
// an sdesk.RateLimitedError, so the domain can defer the step.
// When the wait would pass ctx's deadline, the error also matches
// context.DeadlineExceeded.
func (cl *Client) rateLimited(ctx context.Context, c call, d time.Duration, last error) error {
	var err error = &sdesk.RateLimitedError{Op: "discord: " + c.op, After: d}
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
		err = fmt.Errorf("%w: %w", err, context.DeadlineExceeded)
	}
	if last == nil {
		return err
	}
	return redact(fmt.Errorf("%w (last error: %w)", err, last), c.secret)
}

// pause sleeps d unless that would pass ctx's deadline or ctx ends first.
func (cl *Client) pause(ctx context.Context, c call, d time.Duration, lastErr error, attempts int) error {
	if err := ctx.Err(); err != nil {
		return cl.wrapWait(c, err, lastErr, attempts)
	}
	if d <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
		return cl.wrapWait(c, fmt.Errorf("waiting %v would pass the deadline: %w", d, context.DeadlineExceeded), lastErr, attempts)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return cl.wrapWait(c, ctx.Err(), lastErr, attempts)
	}
}

func (cl *Client) wrapWait(c call, ctxErr, lastErr error, attempts int) error {
	if lastErr == nil {
		return fmt.Errorf("discord: %s: %w", c.op, ctxErr)
	}
	return redact(fmt.Errorf("discord: %s: %w (after %d attempts; last error: %w)", c.op, ctxErr, attempts, lastErr), c.secret)
}

// fail wraps the final error of a call. Discord's "Thread is archived"
// (50083) also matches sdesk.ErrThreadArchived.
func (cl *Client) fail(c call, err error, attempts int) error {
	if APICode(err) == codeThreadArchived {
		err = fmt.Errorf("%w: %w", sdesk.ErrThreadArchived, err)
	} else {
		err = permanent(err)
	}
	if attempts > 1 {
		return redact(fmt.Errorf("discord: %s: %d attempts: %w", c.op, attempts, err), c.secret)
	}
	return redact(fmt.Errorf("discord: %s: %w", c.op, err), c.secret)
}

// redactedError hides a secret (an interaction token, which network errors
// print as part of the URL) from an error's text; errors.Is and errors.As
// still see the wrapped error.
type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "<redacted>")
}
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{err: err, secret: secret}
}

// rateLimitWait tells whether an attempt was rate limited and how long to
// wait: retry_after of the JSON body (float seconds), else the Retry-After
// header, else an exponential back-off
// (https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit).
func rateLimitWait(err error, a *attempt) (time.Duration, bool) {
	if a.status != http.StatusTooManyRequests {
		return 0, false
	}
	var re *rest.Error
	if errors.As(err, &re) {
		var body struct {
			RetryAfter *float64 `json:"retry_after"`
		}
		if json.Unmarshal(re.RsBody, &body) == nil && body.RetryAfter != nil {
			if d, ok := parseSeconds(strconv.FormatFloat(*body.RetryAfter, 'f', -1, 64)); ok {
				return d, true
			}
		}
	}
	if d, ok := parseSeconds(a.header.Get("Retry-After")); ok {
		return d, true
	}
	return backoff(0), true
}
