package discordfake_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/discord/discordfake"
)

// get fetches a URL without any authorization and returns the status,
// headers and body.
func get(t testing.TB, method, u string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

const gone = "This content is no longer available."

var (
	snowflakeRe = regexp.MustCompile(`^[0-9]{15,21}$`)
	hexRe       = regexp.MustCompile(`^[0-9a-f]+$`)
)

// TestAddAttachment: an attachment comes back as Discord's attachment
// object, with a signed link shaped like Discord's CDN link on the fake's
// host, served without authorization.
func TestAddAttachment(t *testing.T) {
	fake := discordfake.New(t)
	// Large enough that net/http would send it chunked without an explicit
	// Content-Length.
	data := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("screen"), 20000)...)
	a := fake.AddAttachment("screen shot.png", "image/png", data)
	b := fake.AddAttachment("log.txt", "text/plain", []byte("log"))
	if !snowflakeRe.MatchString(a.ID) || !snowflakeRe.MatchString(b.ID) || len(b.ID) < len(a.ID) || len(a.ID) == len(b.ID) && b.ID <= a.ID {
		t.Errorf("IDs: got %q then %q, want increasing snowflakes", a.ID, b.ID)
	}
	if a.Filename != "screen shot.png" || a.ContentType != "image/png" || a.Size != int64(len(data)) {
		t.Errorf("attachment: got %+v, want screen shot.png, image/png, %d bytes", a, len(data))
	}
	u, err := url.Parse(a.URL)
	if err != nil {
		t.Fatalf("URL %q: %v", a.URL, err)
	}
	host := strings.TrimSuffix(fake.URL(), discordfake.APIPrefix)
	if u.Scheme+"://"+u.Host != host {
		t.Errorf("URL %q: want it on the fake's host %s", a.URL, host)
	}
	seg := strings.Split(u.EscapedPath(), "/")
	if len(seg) != 5 || seg[1] != "attachments" || !snowflakeRe.MatchString(seg[2]) || seg[3] != a.ID || seg[4] != "screen%20shot.png" {
		t.Errorf("URL path %q: want /attachments/<channel>/%s/screen%%20shot.png", u.EscapedPath(), a.ID)
	}
	q := u.Query()
	ex, err1 := strconv.ParseInt(q.Get("ex"), 16, 64)
	is, err2 := strconv.ParseInt(q.Get("is"), 16, 64)
	if err1 != nil || err2 != nil || !hexRe.MatchString(q.Get("ex")) || !hexRe.MatchString(q.Get("is")) || ex-is != int64(discordfake.AttachmentLifetime.Seconds()) {
		t.Errorf("ex %q, is %q: want hex Unix times a day apart", q.Get("ex"), q.Get("is"))
	}
	if hm := q.Get("hm"); len(hm) != 64 || !hexRe.MatchString(hm) {
		t.Errorf("hm %q: want 64 hex characters", hm)
	}
	if !strings.HasSuffix(a.URL, "&") {
		t.Errorf("URL %q: want Discord's trailing &", a.URL)
	}

	for i := 1; i <= 2; i++ {
		status, h, body := get(t, "GET", a.URL)
		if status != http.StatusOK || !bytes.Equal(body, data) || h.Get("Content-Type") != "image/png" || h.Get("Content-Length") != strconv.Itoa(len(data)) {
			t.Errorf("GET %d: got %d %v %q, want 200 image/png with the data and its length", i, status, h, body)
		}
		if n := fake.AttachmentDownloads(a.ID); n != i {
			t.Errorf("AttachmentDownloads after %d GETs: got %d", i, n)
		}
	}
	if n := fake.AttachmentDownloads(b.ID); n != 0 {
		t.Errorf("AttachmentDownloads of an untouched attachment: got %d, want 0", n)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[0].Path != "/attachments/"+seg[2]+"/"+a.ID+"/screen shot.png" || reqs[0].Status != 200 {
		t.Errorf("Requests: got %+v, want the two GETs of /attachments/... answered 200", reqs)
	}
}

// TestAttachmentRefused: a link that is not exactly the one handed out, or
// one that expired, answers 404 as Discord's CDN does, and serves nothing.
func TestAttachmentRefused(t *testing.T) {
	fake := discordfake.New(t)
	a := fake.AddAttachment("crash.log", "text/plain", []byte("boom"))
	u, _ := url.Parse(a.URL)
	q := u.Query()
	with := func(edit func(u *url.URL, q url.Values)) string {
		c := *u
		cq := url.Values{}
		for k, v := range q {
			cq[k] = append([]string(nil), v...)
		}
		edit(&c, cq)
		c.RawQuery = cq.Encode()
		return c.String()
	}
	_, _, first := get(t, "GET", a.URL)
	if string(first) != "boom" {
		t.Fatalf("GET the link: got %q, want boom", first)
	}
	tests := []struct {
		name, url string
	}{
		{"no query", strings.SplitN(a.URL, "?", 2)[0]},
		{"no hm", with(func(_ *url.URL, q url.Values) { q.Del("hm") })},
		{"other hm", with(func(_ *url.URL, q url.Values) { q.Set("hm", strings.Repeat("0", 64)) })},
		{"later ex", with(func(_ *url.URL, q url.Values) { q.Set("ex", "7fffffff") })},
		{"other is", with(func(_ *url.URL, q url.Values) { q.Set("is", "1") })},
		{"other file name", with(func(u *url.URL, _ url.Values) { u.Path = strings.Replace(u.Path, "crash.log", "other.log", 1) })},
		{"other channel", with(func(u *url.URL, _ url.Values) { u.Path = strings.Replace(u.Path, "/attachments/", "/attachments/1", 1) })},
		{"unknown attachment", with(func(u *url.URL, _ url.Values) { u.Path = strings.Replace(u.Path, a.ID, "1"+a.ID, 1) })},
		{"too short", strings.Replace(a.URL, "/crash.log", "", 1)},
	}
	for _, tt := range tests {
		status, h, body := get(t, "GET", tt.url)
		if status != http.StatusNotFound || string(body) != gone || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Errorf("%s (%s): got %d %q %q, want 404 text/plain %q", tt.name, tt.url, status, h.Get("Content-Type"), body, gone)
		}
	}
	if status, _, _ := get(t, "POST", a.URL); status != http.StatusNotFound {
		t.Errorf("POST the link: got %d, want 404", status)
	}
	if n := fake.AttachmentDownloads(a.ID); n != 1 {
		t.Errorf("AttachmentDownloads: got %d, want 1 (refusals do not count)", n)
	}

	fake.ExpireAttachments()
	if status, _, body := get(t, "GET", a.URL); status != http.StatusNotFound || string(body) != gone {
		t.Errorf("GET after ExpireAttachments: got %d %q, want 404 %q", status, body, gone)
	}
	fresh := fake.AddAttachment("new.log", "", []byte("%PDF-1.7\n"))
	if status, h, body := get(t, "GET", fresh.URL); status != http.StatusOK || string(body) != "%PDF-1.7\n" || h.Get("Content-Type") != "application/pdf" {
		t.Errorf("GET an attachment added after ExpireAttachments: got %d %q %q, want 200 application/pdf (sniffed)", status, h.Get("Content-Type"), body)
	}
	if n := fake.AttachmentDownloads(a.ID); n != 1 {
		t.Errorf("AttachmentDownloads after expiry: got %d, want 1", n)
	}

	fake.Reset()
	if status, _, _ := get(t, "GET", fresh.URL); status != http.StatusNotFound {
		t.Errorf("GET after Reset: got %d, want 404", status)
	}
}

// TestAttachmentFaults: FailNext applies to CDN paths like API paths.
func TestAttachmentFaults(t *testing.T) {
	fake := discordfake.New(t)
	a := fake.AddAttachment("a.txt", "text/plain", []byte("a"))
	fake.FailNext("GET", "/attachments/*/*/*", http.StatusServiceUnavailable, "", 1)
	if status, _, _ := get(t, "GET", a.URL); status != http.StatusServiceUnavailable {
		t.Errorf("first GET: got %d, want the injected 503", status)
	}
	if status, _, body := get(t, "GET", a.URL); status != http.StatusOK || string(body) != "a" {
		t.Errorf("second GET: got %d %q, want 200 a", status, body)
	}
	if n := fake.AttachmentDownloads(a.ID); n != 1 {
		t.Errorf("AttachmentDownloads: got %d, want 1", n)
	}
}

func TestAddAttachmentEmptyName(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("AddAttachment(\"\"): got no panic, want one")
		}
	}()
	discordfake.New(t).AddAttachment("", "text/plain", []byte("x"))
}

// FuzzAttachmentLink: whatever a user names a file, its link serves the
// file's bytes, and the link without its signature serves nothing.
func FuzzAttachmentLink(f *testing.F) {
	for _, s := range []string{"a.png", "screen shot.png", "a/b?c#d%e&f=g.txt", "..", "日本.png", "\x00\xff", "%2F"} {
		f.Add(s, []byte("data"))
	}
	fake := discordfake.New(f)
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if name == "" {
			return
		}
		a := fake.AddAttachment(name, "application/octet-stream", data)
		status, _, body := get(t, "GET", a.URL)
		if status != http.StatusOK || !bytes.Equal(body, data) || a.Size != int64(len(data)) || a.Filename != name {
			t.Fatalf("AddAttachment(%q) = %+v; GET: %d %q, want 200 with the data", name, a, status, body)
		}
		unsigned, _, _ := strings.Cut(a.URL, "&hm=")
		if status, _, _ := get(t, "GET", unsigned); status != http.StatusNotFound {
			t.Fatalf("GET %q without hm: got %d, want 404", unsigned, status)
		}
	})
}
