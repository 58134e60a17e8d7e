package discord

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// attempt records what the transport saw of one HTTP attempt. discordgo
// reports some failures without the status code (a 502 becomes a plain
// "Exceeded Max retries" error, an unparsable 429 body a JSON error), so the
// retry loop reads the status and headers from here instead.
type attempt struct {
	sent   bool        // the request reached the transport
	status int         // 0 when no response arrived
	header http.Header // response headers, including the rate-limit ones
}

type attemptKey struct{}

func withAttempt(ctx context.Context, a *attempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, a)
}

// rateLimitHeaders are removed from responses before discordgo sees them:
// discordgo's bucket limiter would otherwise sleep on them without looking
// at the context. The client's own limiter (limiter.go) uses them instead.
var rateLimitHeaders = []string{
	"Retry-After",
	"X-RateLimit-Limit",
	"X-RateLimit-Remaining",
	"X-RateLimit-Reset",
	"X-RateLimit-Reset-After",
	"X-RateLimit-Bucket",
	"X-RateLimit-Global",
	"X-RateLimit-Scope",
}

// rewriteTransport sends requests that discordgo addresses to its fixed API
// base (discordgo.EndpointAPI, https://discord.com/api/v9/ in v0.29.0) to the
// configured API base instead: scheme, host and path prefix are replaced,
// the rest of the path, the query and every header (the Authorization and
// discordgo's User-Agent included) are kept.
type rewriteTransport struct {
	base     http.RoundTripper
	fromHost string // host of discordgo's base, e.g. discord.com
	fromPath string // escaped path of discordgo's base without the final slash, e.g. /api/v9
	fromTLS  bool
	to       *url.URL
	toPath   string // escaped path of the target base without the final slash
}

func newRewriteTransport(base http.RoundTripper, from, to string) (*rewriteTransport, error) {
	f, err := url.Parse(from)
	if err != nil {
		return nil, fmt.Errorf("parse discordgo API base %q: %w", from, err)
	}
	t, err := url.Parse(to)
	if err != nil {
		return nil, fmt.Errorf("parse API URL %q: %w", to, err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &rewriteTransport{
		base:     base,
		fromHost: f.Host,
		fromPath: strings.TrimSuffix(f.EscapedPath(), "/"),
		fromTLS:  f.Scheme == "https",
		to:       t,
		toPath:   strings.TrimSuffix(t.EscapedPath(), "/"),
	}, nil
}

// rewrite returns the URL a discordgo URL is sent to, or nil when u is not
// under discordgo's API base.
func (t *rewriteTransport) rewrite(u *url.URL) (*url.URL, error) {
	if u.Host != t.fromHost || (u.Scheme == "https") != t.fromTLS {
		return nil, nil
	}
	p := u.EscapedPath()
	if p != t.fromPath && !strings.HasPrefix(p, t.fromPath+"/") {
		return nil, nil
	}
	escaped := t.toPath + strings.TrimPrefix(p, t.fromPath)
	unescaped, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", u.Redacted(), err)
	}
	out := *u
	out.Scheme = t.to.Scheme
	out.Host = t.to.Host
	out.User = t.to.User
	out.Path = unescaped
	out.RawPath = escaped
	return &out, nil
}

// RoundTrip implements http.RoundTripper.
func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a, _ := req.Context().Value(attemptKey{}).(*attempt)
	if a != nil {
		a.sent = true
	}
	out := req
	u, err := t.rewrite(req.URL)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	if u != nil {
		out = req.Clone(req.Context())
		out.URL = u
		out.Host = ""
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if a != nil {
		a.status = resp.StatusCode
		a.header = resp.Header.Clone()
	}
	for _, h := range rateLimitHeaders {
		resp.Header.Del(h)
	}
	return resp, nil
}
