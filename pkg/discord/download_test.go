package discord_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// cdn is a test server standing in for Discord's CDN; the client's API
// base is on its host, so attachmentURL lets its URLs through.
type cdn struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	handle   func(w http.ResponseWriter, r *http.Request, n int) // n: 0-based request number
}

func newCDN(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *cdn {
	t.Helper()
	c := &cdn{handle: handle}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		n := len(c.requests)
		c.requests = append(c.requests, r.Clone(context.Background()))
		c.mu.Unlock()
		c.handle(w, r, n)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *cdn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.requests)
}

// client returns a Client whose API base is on the CDN server's host.
func (c *cdn) client(t *testing.T, mod ...func(*discord.ClientConfig)) *discord.Client {
	t.Helper()
	cfg := discord.ClientConfig{BotToken: "bot-secret", ApplicationID: appID, APIURL: c.srv.URL + "/api/v10"}
	for _, m := range mod {
		m(&cfg)
	}
	cl, err := discord.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func serveBytes(data []byte, contentType string) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		_, _ = w.Write(data)
	}
}

func TestDownloadAttachment(t *testing.T) {
	data := []byte("\x89PNG\r\n\x1a\n fake image")
	tests := []struct {
		name, attType, served, wantType string
	}{
		{"content type of the attachment", "image/png", "application/octet-stream", "image/png"},
		{"content type of the answer", "", "image/png", "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCDN(t, serveBytes(data, tt.served))
			c := srv.client(t)
			a := sdesk.Attachment{ID: "1", Filename: "screen.png", URL: srv.srv.URL + "/attachments/1/2/screen.png?ex=1&is=2&hm=3", ContentType: tt.attType, Size: int64(len(data))}
			f, err := c.DownloadAttachment(context.Background(), a, 1<<20)
			if err != nil {
				t.Fatalf("DownloadAttachment: %v", err)
			}
			if f.Name != "screen.png" || f.ContentType != tt.wantType || !bytes.Equal(f.Data, data) {
				t.Errorf("file: got %s %s %q, want screen.png %s %q", f.Name, f.ContentType, f.Data, tt.wantType, data)
			}
			if srv.count() != 1 {
				t.Fatalf("requests: got %d, want 1", srv.count())
			}
			r := srv.requests[0]
			if h := r.Header.Get("Authorization"); h != "" {
				t.Errorf("Authorization sent to the CDN: %q", h)
			}
			if r.URL.RequestURI() != "/attachments/1/2/screen.png?ex=1&is=2&hm=3" {
				t.Errorf("request: got %s, want the attachment's URL", r.URL.RequestURI())
			}
		})
	}
}

// TestDownloadAttachmentRefusesOtherHosts: only https URLs on Discord's
// CDN, or URLs on the API base's host, are fetched; nothing is sent
// anywhere else.
func TestDownloadAttachmentRefusesOtherHosts(t *testing.T) {
	const api = "127.0.0.1:9"
	for _, raw := range []string{
		"http://127.0.0.1:10/a.png",
		"https://127.0.0.1:9/a.png",
		"http://cdn.discordapp.com/attachments/1/2/a.png",
		"https://cdn.discordapp.com.evil.example/a.png",
		"https://evil.example/cdn.discordapp.com/a.png",
		"https://CDN.discordapp.com/a.png",
		"https://cdn.discordapp.com:8443/a.png",
		"https://user:pw@cdn.discordapp.com/a.png",
		"http://user@" + api + "/a.png",
		"file:///etc/passwd",
		"//cdn.discordapp.com/a.png",
		"",
		"%zz",
	} {
		t.Run(raw, func(t *testing.T) {
			var sent atomic.Int32
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent.Add(1)
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("x")), Request: r}, nil
			})
			c, err := discord.NewClient(discord.ClientConfig{BotToken: "t", ApplicationID: appID, APIURL: "http://" + api + "/api/v10",
				HTTPClient: &http.Client{Transport: rt}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a.png", URL: raw, Size: 1}, 100); err == nil {
				t.Errorf("DownloadAttachment(%q) succeeded, want a refusal", raw)
			}
			if n := sent.Load(); n != 0 {
				t.Errorf("requests: got %d, want none", n)
			}
		})
	}
}

// A redirect off the CDN is not followed.
func TestDownloadAttachmentRefusesRedirectElsewhere(t *testing.T) {
	other := newCDN(t, serveBytes([]byte("secret"), ""))
	srv := newCDN(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, other.srv.URL+"/a.png", http.StatusFound)
	})
	_, err := srv.client(t).DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a.png", URL: srv.srv.URL + "/a.png"}, 100)
	if err == nil || other.count() != 0 {
		t.Errorf("got %v and %d requests elsewhere, want a refusal and none", err, other.count())
	}
}

// countingBody is an endless body that counts what is read of it.
type countingBody struct{ n *atomic.Int64 }

func (b countingBody) Read(p []byte) (int, error) {
	b.n.Add(int64(len(p)))
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
func (countingBody) Close() error { return nil }

// endlessTransport answers every request with an endless body of the
// given Content-Length (-1: unknown).
type endlessTransport struct {
	read   *atomic.Int64
	length int64
}

func (e endlessTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: countingBody{e.read}, ContentLength: e.length, Request: r}, nil
}

func TestDownloadAttachmentTooLarge(t *testing.T) {
	const max = 1000
	big := bytes.Repeat([]byte("x"), max+1)
	tests := []struct {
		name      string
		size      int64 // as the attachment says
		handle    func(w http.ResponseWriter, r *http.Request, n int)
		wantCalls int
	}{
		{"size of the attachment", max + 1, serveBytes(big, ""), 0},
		{"Content-Length", 10, serveBytes(big, ""), 1},
		{"body without a length", 10, func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.(http.Flusher).Flush() // chunked: no Content-Length
			_, _ = w.Write(big)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCDN(t, tt.handle)
			_, err := srv.client(t).DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a", URL: srv.srv.URL + "/a", Size: tt.size}, max)
			if !errors.Is(err, sdesk.ErrTooLarge) {
				t.Errorf("err = %v, want ErrTooLarge", err)
			}
			if srv.count() != tt.wantCalls {
				t.Errorf("requests: got %d, want %d", srv.count(), tt.wantCalls)
			}
		})
	}
	for _, tt := range []struct {
		name     string
		length   int64
		wantRead int64
	}{
		{"at most max+1 bytes are read", -1, max + 1},
		{"nothing is read past a Content-Length over max", max + 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var read atomic.Int64
			c, err := discord.NewClient(discord.ClientConfig{BotToken: "t", ApplicationID: appID,
				HTTPClient: &http.Client{Transport: endlessTransport{&read, tt.length}}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a", URL: "https://cdn.discordapp.com/attachments/1/2/a"}, max)
			if !errors.Is(err, sdesk.ErrTooLarge) {
				t.Errorf("err = %v, want ErrTooLarge", err)
			}
			if n := read.Load(); n != tt.wantRead {
				t.Errorf("read %d bytes of an endless body, want %d", n, tt.wantRead)
			}
		})
	}
	t.Run("exactly max bytes", func(t *testing.T) {
		srv := newCDN(t, serveBytes(big[:max], ""))
		f, err := srv.client(t).DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a", URL: srv.srv.URL + "/a", Size: max}, max)
		if err != nil || len(f.Data) != max {
			t.Errorf("got %d bytes, %v; want %d", len(f.Data), err, max)
		}
	})
}

func TestDownloadAttachmentErrors(t *testing.T) {
	status := func(codes ...int) func(w http.ResponseWriter, r *http.Request, n int) {
		return func(w http.ResponseWriter, _ *http.Request, n int) {
			if n < len(codes) {
				w.WriteHeader(codes[n])
				_, _ = w.Write([]byte("This content is no longer available."))
				return
			}
			_, _ = w.Write([]byte("ok"))
		}
	}
	tests := []struct {
		name          string
		handle        func(w http.ResponseWriter, r *http.Request, n int)
		wantErr       bool
		wantPermanent bool
		wantCalls     int
	}{
		{"404: expired link", status(404, 404), true, true, 1},
		{"403", status(403, 403), true, true, 1},
		{"410", status(410, 410), true, true, 1},
		{"500 then 200", status(500), false, false, 2},
		{"503, 502 then 200", status(503, 502), false, false, 3},
		{"persistent 500", status(500, 500, 500, 500, 500, 500), true, false, 3},
		{"408 then 200", status(408), false, false, 2},
		{"400", status(400, 400), true, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCDN(t, tt.handle)
			f, err := srv.client(t, retries(2)).DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a", URL: srv.srv.URL + "/a?ex=1&is=2&hm=signature"}, 100)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := sdesk.IsPermanent(err); got != tt.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.wantPermanent)
			}
			if !tt.wantErr && string(f.Data) != "ok" {
				t.Errorf("data: got %q, want ok", f.Data)
			}
			if tt.wantErr && strings.Contains(err.Error(), "signature") {
				t.Errorf("error %q shows the link's signature", err)
			}
			if srv.count() != tt.wantCalls {
				t.Errorf("requests: got %d, want %d", srv.count(), tt.wantCalls)
			}
		})
	}
}

func TestDownloadAttachmentNetworkErrorRetried(t *testing.T) {
	srv := newCDN(t, serveBytes([]byte("ok"), ""))
	ft := &flakyTransport{}
	ft.fails.Store(1)
	c := srv.client(t, func(cfg *discord.ClientConfig) { cfg.HTTPClient = &http.Client{Transport: ft} })
	f, err := c.DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a", URL: srv.srv.URL + "/a"}, 100)
	if err != nil || string(f.Data) != "ok" || ft.calls.Load() != 2 {
		t.Errorf("got %q, %v after %d round trips; want ok after 2", f.Data, err, ft.calls.Load())
	}
}

// A 429 of the CDN waits its Retry-After; a wait past the deadline ends
// the download at once.
func TestDownloadAttachmentRateLimited(t *testing.T) {
	srv := newCDN(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 0 {
			w.Header().Set("Retry-After", strconv.Itoa(5))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := srv.client(t).DownloadAttachment(ctx, sdesk.Attachment{Filename: "a", URL: srv.srv.URL + "/a"}, 100)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 500*time.Millisecond {
		t.Errorf("got %v after %v, want context.DeadlineExceeded at once", err, time.Since(start))
	}
}

// FuzzDownloadAttachment: whatever the attachment's URL and wherever its
// answer redirects, every request the client sends goes to
// https://cdn.discordapp.com, https://media.discordapp.net or the API
// base's own scheme and host, and none carries an Authorization header;
// a download that succeeds fetched from there.
func FuzzDownloadAttachment(f *testing.F) {
	f.Add("https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&is=2&hm=3", "")
	f.Add("https://media.discordapp.net/attachments/1/2/a.png", "https://evil.example/x")
	f.Add("https://cdn.discordapp.com/a", "http://127.0.0.1:9/api/v10/x")
	f.Add("http://127.0.0.1:9/a", "https://cdn.discordapp.com/b")
	f.Add("https://user:pw@cdn.discordapp.com/a", "")
	f.Add("https://CDN.discordapp.com/a", "//evil.example/")
	f.Add("https://cdn.discordapp.com./a", "https://user@media.discordapp.net/")
	const apiScheme, apiHost = "http", "127.0.0.1:9"
	allowed := func(u *url.URL) bool {
		return u.Scheme == "https" && (u.Host == "cdn.discordapp.com" || u.Host == "media.discordapp.net") ||
			u.Scheme == apiScheme && u.Host == apiHost
	}
	f.Fuzz(func(t *testing.T, raw, location string) {
		var mu sync.Mutex
		var sent []*http.Request
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			n := len(sent)
			sent = append(sent, r)
			mu.Unlock()
			resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("data")), Request: r}
			if n == 0 && location != "" {
				resp.StatusCode = http.StatusFound
				resp.Header.Set("Location", location)
			}
			return resp, nil
		})
		c, err := discord.NewClient(discord.ClientConfig{BotToken: "bot-secret", ApplicationID: appID, APIURL: apiScheme + "://" + apiHost + "/api/v10",
			HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		file, err := c.DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a", URL: raw}, 100)
		mu.Lock()
		defer mu.Unlock()
		for _, r := range sent {
			if !allowed(r.URL) {
				t.Fatalf("request sent to %s (attachment URL %q, redirect %q)", r.URL, raw, location)
			}
			if h := r.Header.Get("Authorization"); h != "" {
				t.Fatalf("Authorization %q sent to %s", h, r.URL)
			}
		}
		if err == nil && (len(sent) == 0 || string(file.Data) != "data") {
			t.Fatalf("success without a fetch: %d requests, data %q", len(sent), file.Data)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
