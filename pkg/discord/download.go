package discord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// cdnHosts are the hosts of Discord's CDN that serve attachments: url
// (cdn.discordapp.com) and proxy_url (media.discordapp.net) of an
// attachment object
// (https://discord.com/developers/docs/reference#signed-attachment-cdn-urls,
// https://discord.com/developers/docs/resources/message#attachment-object).
var cdnHosts = map[string]bool{"cdn.discordapp.com": true, "media.discordapp.net": true}

// downloadError is a CDN answer other than 200; StatusCode reads it.
type downloadError struct {
	status int
	url    string
}

func (e *downloadError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.url, e.status, http.StatusText(e.status))
}

// transientError is a download failure worth retrying although it has a
// status below 500: a body cut short (a network error), a 408.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// attachmentURL checks an attachment's URL before anything is sent to it:
// an https URL on Discord's CDN (cdnHosts, no port), or any URL with the
// configured API base's scheme, host and port (a proxy or a test server).
// A URL with user info is refused: nothing may send credentials with it.
func (c *Client) attachmentURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("attachment URL is malformed: %w", err)
	}
	switch {
	case u.User != nil:
		return nil, errors.New("attachment URL carries user info")
	case u.Scheme == "https" && cdnHosts[u.Host]:
		return u, nil
	case u.Scheme == c.api.Scheme && u.Host == c.api.Host:
		return u, nil
	}
	shown := *u
	shown.RawQuery, shown.ForceQuery, shown.Fragment = "", false, ""
	return nil, fmt.Errorf("attachment URL %s is not on Discord's CDN (https://cdn.discordapp.com, https://media.discordapp.net) nor on the API's host %s://%s",
		shown.String(), c.api.Scheme, c.api.Host)
}

// DownloadAttachment downloads a file a user attached (an entry of an
// interaction's resolved attachments) from Discord's CDN, at most max bytes
// (max > 0). The CDN's signed URLs need no token, and none is sent: the
// request carries no Authorization header, and redirects are followed only
// to URLs attachmentURL allows.
//
// Errors: a URL off Discord's CDN (and off the API base's host) is refused
// before anything is sent. a.Size, the answer's Content-Length or the body
// over max bytes match sdesk.ErrTooLarge (errors.Is); at most max+1 bytes
// are read. 403, 404 and 410 (an expired or deleted link; CDN links expire
// after about a day) are sdesk.PermanentError. 5xx, 408, 429 and network
// errors are retried with the API calls' back-off, within ctx and
// ClientConfig.MaxRetries. The file's content type is the attachment's,
// else the answer's.
func (c *Client) DownloadAttachment(ctx context.Context, a sdesk.Attachment, max int64) (sdesk.File, error) {
	const op = "download attachment"
	if max <= 0 {
		return sdesk.File{}, fmt.Errorf("discord: %s %q: the size limit %d is not positive", op, a.Filename, max)
	}
	if a.Size > max {
		return sdesk.File{}, fmt.Errorf("discord: %s %q: %d bytes, at most %d: %w", op, a.Filename, a.Size, max, sdesk.ErrTooLarge)
	}
	u, err := c.attachmentURL(a.URL)
	if err != nil {
		// No retry can change the URL.
		return sdesk.File{}, sdesk.Permanent(fmt.Errorf("discord: %s %q: %w", op, a.Filename, err),
			"the attachment's URL is not on Discord's CDN; nothing to retry")
	}
	hc := *c.httpClient
	// A file may take longer than an API call's 20 s; ctx (the job
	// attempt's deadline) bounds the download instead.
	hc.Timeout = 0
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		_, err := c.attachmentURL(req.URL.String())
		return err
	}
	f := sdesk.File{Name: a.Filename, ContentType: a.ContentType}
	err = c.do(ctx, call{
		op:  op,
		key: "GET " + u.Host,
		fn: func(ctx context.Context) error {
			data, ct, err := fetch(ctx, &hc, u, max)
			if err != nil {
				return err
			}
			f.Data = data
			if f.ContentType == "" {
				f.ContentType = ct
			}
			return nil
		},
	})
	if err != nil {
		return sdesk.File{}, err
	}
	return f, nil
}

// fetch GETs u and reads at most max bytes of its body. Errors name u
// without its query: the CDN's signature (ex, is, hm) stays out of logs.
func fetch(ctx context.Context, hc *http.Client, u *url.URL, max int64) ([]byte, string, error) {
	shown := *u
	shown.RawQuery, shown.ForceQuery = "", false
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("build request for %s: %w", shown.Redacted(), err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = shown.Redacted()
		}
		return nil, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	switch status := resp.StatusCode; {
	case status == http.StatusForbidden, status == http.StatusNotFound, status == http.StatusGone:
		return nil, "", sdesk.Permanent(&downloadError{status: status, url: shown.Redacted()},
			"the attachment's link expired or the file was deleted; the user can attach it again")
	case status == http.StatusRequestTimeout:
		return nil, "", &transientError{err: &downloadError{status: status, url: shown.Redacted()}}
	case status != http.StatusOK:
		// 5xx are retried, a 429 waits its Retry-After (see do).
		return nil, "", &downloadError{status: status, url: shown.Redacted()}
	}
	if resp.ContentLength > max {
		return nil, "", fmt.Errorf("GET %s: Content-Length %d, at most %d: %w", shown.Redacted(), resp.ContentLength, max, sdesk.ErrTooLarge)
	}
	limit := max
	if limit < math.MaxInt64 {
		limit++ // one byte more tells a body over max
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, "", &transientError{err: fmt.Errorf("GET %s: body cut short: %w", shown.Redacted(), err)}
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("GET %s: body over %d bytes: %w", shown.Redacted(), max, sdesk.ErrTooLarge)
	}
	return data, resp.Header.Get("Content-Type"), nil
}
