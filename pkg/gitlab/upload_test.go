package gitlab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// uploadURLRe is the shape of every url UploadFile may return: the
// secret, then one path segment.
var uploadURLRe = regexp.MustCompile(`^/uploads/([0-9a-f]{32})/([^/]+)$`)

// TestUploadFile uploads files named as Discord users name them: GitLab
// (the fake, with CarrierWave's rule) stores each under its sanitized
// name, UploadFile returns that name and GitLab's url, and the file can
// be read back through the API under both.
func TestUploadFile(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"screenshot.png", "screenshot.png"},
		{"screen shot (2).png", "screen_shot__2_.png"},
		{"résumé.pdf", "résumé.pdf"},
		{"crash+dump_v1-2.tar.gz", "crash+dump_v1-2.tar.gz"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\ada\log.txt`, "log.txt"},
		{"dir/", "dir"},
		{"...", "_..."},
		{"/", "_"},
		{"line\nbreak\r.log", "line_break_.log"},
		{"nul\x00byte\xff.bin", "nul_byte_.bin"},
		{"[x](javascript:alert(1)) @all #1.txt", "_x__javascript_alert_1____all__1.txt"},
		{"\u202egnp.exe", "_gnp.exe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := gitlabfake.New(t)
			c := newClient(t, f)
			data := []byte("contents of " + tt.name)
			up, err := c.UploadFile(context.Background(), sdesk.File{Name: tt.name, ContentType: "image/png", Data: data})
			if err != nil {
				t.Fatalf("UploadFile(%q): %v", tt.name, err)
			}
			stored := f.Uploads()
			if len(stored) != 1 {
				t.Fatalf("uploads: got %d, want 1", len(stored))
			}
			if want := "/uploads/" + stored[0].Secret + "/" + tt.want; up.URL != want || up.Filename != tt.want {
				t.Errorf("UploadFile(%q): got URL %q, Filename %q; want %q, %q", tt.name, up.URL, up.Filename, want, tt.want)
			}
			if stored[0].Filename != tt.want || !bytes.Equal(stored[0].Data, data) {
				t.Errorf("stored: got %q, %q; want %q, %q", stored[0].Filename, stored[0].Data, tt.want, data)
			}
			m := uploadURLRe.FindStringSubmatch(up.URL)
			if m == nil {
				t.Fatalf("URL %q: want /uploads/<32 hex>/<name>", up.URL)
			}
			file, err := c.DownloadUpload(context.Background(), m[1], up.Filename)
			if err != nil || !bytes.Equal(file.Data, data) {
				t.Errorf("DownloadUpload: got %q, %v; want %q", file.Data, err, data)
			}
			if n := f.CountRequests("POST", "/projects/:id/uploads"); n != 1 {
				t.Errorf("POST uploads: got %d requests, want 1", n)
			}
		})
	}
}

// TestUploadFileRequest: the request is GitLab's documented one, a
// multipart body whose "file" part carries the name and the bytes, sent
// with the token to the configured project.
func TestUploadFileRequest(t *testing.T) {
	f := gitlabfake.New(t)
	c := newClient(t, f)
	data := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2}, 1000)...)
	if _, err := c.UploadFile(context.Background(), sdesk.File{Name: `say "hi".png`, Data: data}); err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests: got %d, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/api/v4/projects/acme%2Fsupport/uploads" || r.Header.Get("Private-Token") != f.Token() {
		t.Errorf("request: got %s %s token %q, want POST /api/v4/projects/acme%%2Fsupport/uploads with the token", r.Method, r.Path, r.Header.Get("Private-Token"))
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("Content-Type: got %q, want multipart/form-data", r.Header.Get("Content-Type"))
	}
	part, err := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"]).NextPart()
	if err != nil {
		t.Fatalf("first part: %v", err)
	}
	got, _ := io.ReadAll(part)
	if part.FormName() != "file" || part.FileName() != `say "hi".png` || !bytes.Equal(got, data) {
		t.Errorf("part: got field %q, name %q, %d bytes; want file, %q, %d bytes", part.FormName(), part.FileName(), len(got), `say "hi".png`, len(data))
	}
}

func TestUploadFileRefusesEmpty(t *testing.T) {
	tests := []struct {
		name string
		file sdesk.File
	}{
		{"no name", sdesk.File{Data: []byte("x")}},
		{"no data", sdesk.File{Name: "a.txt"}},
		{"empty data", sdesk.File{Name: "a.txt", Data: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := gitlabfake.New(t)
			if _, err := newClient(t, f).UploadFile(context.Background(), tt.file); err == nil {
				t.Error("UploadFile: got success, want an error")
			}
			if n := len(f.Requests()); n != 0 {
				t.Errorf("requests: got %d, want none", n)
			}
		})
	}
}

// TestUploadFileRetryPolicy: an upload is retried like a GET (a repeat at
// worst leaves an unreferenced upload); GitLab's refusals are permanent and
// sent once; 413 is sdesk.ErrTooLarge.
func TestUploadFileRetryPolicy(t *testing.T) {
	tests := []struct {
		status              int
		wantOK              bool
		wantTries           int
		permanent, tooLarge bool
	}{
		{http.StatusInternalServerError, true, 2, false, false},
		{http.StatusBadGateway, true, 2, false, false},
		{http.StatusServiceUnavailable, true, 2, false, false},
		{http.StatusGatewayTimeout, true, 2, false, false},
		{http.StatusTooManyRequests, true, 2, false, false},
		{http.StatusNotImplemented, false, 1, false, false},
		{http.StatusBadRequest, false, 1, false, false},
		{http.StatusUnauthorized, false, 1, true, false},
		{http.StatusForbidden, false, 1, true, false},
		{http.StatusNotFound, false, 1, true, false},
		{http.StatusRequestEntityTooLarge, false, 1, true, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			f := gitlabfake.New(t)
			c := newClient(t, f)
			f.FailNext("POST", "/projects/:id/uploads", tt.status, 1)
			data := []byte("log line\n")
			up, err := c.UploadFile(context.Background(), sdesk.File{Name: "app.log", Data: data})
			if (err == nil) != tt.wantOK {
				t.Fatalf("UploadFile: got %+v, %v; want success=%v", up, err, tt.wantOK)
			}
			if n := f.CountRequests("POST", "/projects/:id/uploads"); n != tt.wantTries {
				t.Errorf("POST uploads: got %d requests, want %d", n, tt.wantTries)
			}
			if got := sdesk.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			if got := errors.Is(err, sdesk.ErrTooLarge); got != tt.tooLarge {
				t.Errorf("errors.Is(%v, sdesk.ErrTooLarge) = %v, want %v", err, got, tt.tooLarge)
			}
			if got := errors.Is(err, sdesk.ErrNotFound); got != (tt.status == http.StatusNotFound) {
				t.Errorf("errors.Is(%v, sdesk.ErrNotFound) = %v, want %v", err, got, !got)
			}
			if tt.wantOK {
				if s := f.Uploads(); len(s) != 1 || !bytes.Equal(s[0].Data, data) || up.Filename != "app.log" {
					t.Errorf("after the retry: got %+v stored, %+v returned; want app.log with its data", s, up)
				}
			}
		})
	}
}

// TestUploadFileRetriedAfterSending: unlike a create, an upload whose
// request may have reached GitLab is sent again, whole.
func TestUploadFileRetriedAfterSending(t *testing.T) {
	f := gitlabfake.New(t)
	ft := &faultTransport{err: io.ErrUnexpectedEOF, sent: true}
	c := newClient(t, f, withTransport(ft))
	data := bytes.Repeat([]byte("0123456789"), 1000)
	up, err := c.UploadFile(context.Background(), sdesk.File{Name: "big.txt", Data: data})
	if err != nil {
		t.Fatalf("UploadFile: got %v, want success after a retry", err)
	}
	if n := ft.calls.Load(); n != 2 {
		t.Errorf("attempts: got %d, want 2", n)
	}
	stored := f.Uploads()
	if len(stored) != 2 || !bytes.Equal(stored[0].Data, data) || !bytes.Equal(stored[1].Data, data) {
		t.Fatalf("uploads: got %d, want 2 whole copies (the lost answer's and the retry's)", len(stored))
	}
	if want := "/uploads/" + stored[1].Secret + "/big.txt"; up.URL != want {
		t.Errorf("URL: got %q, want the retry's %q", up.URL, want)
	}
}

// TestUploadFileTooLarge: GitLab's maximum attachment size answers 413;
// the error matches sdesk.ErrTooLarge, is permanent, and nothing is kept.
func TestUploadFileTooLarge(t *testing.T) {
	f := gitlabfake.New(t)
	f.SetMaxUploadBytes(1000)
	c := newClient(t, f)
	_, err := c.UploadFile(context.Background(), sdesk.File{Name: "big.bin", Data: make([]byte, 1001)})
	if !errors.Is(err, sdesk.ErrTooLarge) || !sdesk.IsPermanent(err) {
		t.Errorf("1001 bytes: got %v, want a permanent error matching sdesk.ErrTooLarge", err)
	}
	var perm *sdesk.PermanentError
	if errors.As(err, &perm) && (perm.Fix == "" || perm.Why == "") {
		t.Errorf("PermanentError: got Fix %q, Why %q; want both", perm.Fix, perm.Why)
	}
	if n := len(f.Uploads()); n != 0 {
		t.Errorf("uploads: got %d, want none", n)
	}
	if n := f.CountRequests("POST", "/projects/:id/uploads"); n != 1 {
		t.Errorf("POST uploads: got %d requests, want 1", n)
	}
	if _, err := c.UploadFile(context.Background(), sdesk.File{Name: "max.bin", Data: make([]byte, 1000)}); err != nil {
		t.Errorf("1000 bytes: got %v, want success", err)
	}
}

// answerServer is a GitLab whose upload answer is set by the test.
type answerServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	url  string
	hits int
}

func newAnswerServer(t testing.TB) *answerServer {
	a := &answerServer{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		u := a.url
		a.hits++
		a.mu.Unlock()
		b, _ := json.Marshal(map[string]any{"id": 5, "alt": "x", "url": u, "full_path": "/-/project/1" + u, "markdown": "[x](" + u + ")"})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *answerServer) answer(u string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.url, a.hits = u, 0
}

func (a *answerServer) requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits
}

func (a *answerServer) client(t testing.TB) *gitlab.Client {
	c, err := gitlab.NewClient(gitlab.ClientConfig{BaseURL: a.srv.URL, Token: "t", Project: "1", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestUploadFileChecksAnswer: a url that is not /uploads/<32 lowercase
// hex>/<one safe segment> is refused, for good, without a retry; the
// forms GitLab answers are accepted and unescaped.
func TestUploadFileChecksAnswer(t *testing.T) {
	const hex32 = "66dbcd21ec5d24ed6ea225176098d52b"
	a := newAnswerServer(t)
	c := a.client(t)
	good := []struct{ url, filename string }{
		{"/uploads/" + hex32 + "/dk.png", "dk.png"},
		{"/uploads/" + hex32 + "/résumé.pdf", "résumé.pdf"},
		{"/uploads/" + hex32 + "/r%C3%A9sum%C3%A9.pdf", "résumé.pdf"},
		{"/uploads/" + hex32 + "/a+b_c-d.tar.gz", "a+b_c-d.tar.gz"},
		{"/uploads/" + hex32 + "/screen%20shot.png", "screen shot.png"},
		{"/uploads/" + hex32 + "/_..", "_.."},
	}
	for _, tt := range good {
		a.answer(tt.url)
		up, err := c.UploadFile(context.Background(), sdesk.File{Name: "x", Data: []byte("x")})
		if err != nil || up.URL != tt.url || up.Filename != tt.filename {
			t.Errorf("answer %q: got %+v, %v; want URL as answered, Filename %q", tt.url, up, err, tt.filename)
		}
	}
	bad := []string{
		"",
		"/uploads/" + hex32,
		"/uploads/" + hex32 + "/",
		"/uploads/" + strings.ToUpper(hex32) + "/dk.png",
		"/uploads/" + hex32[:31] + "/dk.png",
		"/uploads/" + hex32 + "0/dk.png",
		"/uploads/" + hex32 + "/sub/dk.png",
		"uploads/" + hex32 + "/dk.png",
		"https://evil.example/uploads/" + hex32 + "/dk.png",
		"/acme/support/uploads/" + hex32 + "/dk.png",
		"/uploads/" + hex32 + "/dk.png?x=1",
		"/uploads/" + hex32 + "/dk.png#x",
		"/uploads/" + hex32 + "/dk).png",
		"/uploads/" + hex32 + "/dk png",
		"/uploads/" + hex32 + "/dk<b>.png",
		"/uploads/" + hex32 + "/dk\".png",
		"/uploads/" + hex32 + "/dk\n.png",
		"/uploads/" + hex32 + "/..",
		"/uploads/" + hex32 + "/.",
		"/uploads/" + hex32 + "/%2E%2E",
		"/uploads/" + hex32 + "/a%2Fb.png",
		"/uploads/" + hex32 + "/a%5Cb.png",
		"/uploads/" + hex32 + "/a%0Ab.png",
		"/uploads/" + hex32 + "/a%E2%80%AEb.png",
		"/uploads/" + hex32 + "/a%FFb.png",
		"/uploads/" + hex32 + "/a%zzb.png",
		"/uploads/" + hex32 + "/a%2",
	}
	for _, u := range bad {
		a.answer(u)
		up, err := c.UploadFile(context.Background(), sdesk.File{Name: "x", Data: []byte("x")})
		if err == nil || !sdesk.IsPermanent(err) {
			t.Errorf("answer %q: got %+v, %v; want a permanent error", u, up, err)
		}
		if n := a.requests(); n != 1 {
			t.Errorf("answer %q: got %d requests, want 1", u, n)
		}
	}
}

// markdownSafeURL states what sdesk needs of an upload's url to compose
// Markdown from it: "/uploads/", 32 lowercase hex, "/", then a file name
// segment with no ASCII but letters, digits, ".", "_", "+", "-" and "%"
// escapes, and no non-ASCII character but letters, marks and digits.
func markdownSafeURL(u string) error {
	rest, ok := strings.CutPrefix(u, "/uploads/")
	if !ok || len(rest) < 34 || rest[32] != '/' {
		return fmt.Errorf("not /uploads/<32>/...")
	}
	for _, r := range rest[:32] {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return fmt.Errorf("secret %q not lowercase hex", rest[:32])
		}
	}
	seg := rest[33:]
	for i, r := range seg {
		switch {
		case r == '%':
			if i+2 >= len(seg) || !isHex(seg[i+1]) || !isHex(seg[i+2]) {
				return fmt.Errorf("bad escape at %d", i)
			}
		case r < utf8.RuneSelf:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || strings.ContainsRune("._+-", r)) {
				return fmt.Errorf("ASCII %q in the file name", r)
			}
		case !unicode.In(r, unicode.L, unicode.M, unicode.Nd, unicode.Pc):
			return fmt.Errorf("%U in the file name", r)
		}
	}
	return nil
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// FuzzUploadAnswer: whatever url GitLab answers, UploadFile either refuses
// it or returns it unchanged, Markdown-safe, with Filename its last
// segment unescaped: printable, without "/" or "\", not "." or "..".
func FuzzUploadAnswer(f *testing.F) {
	const hex32 = "66dbcd21ec5d24ed6ea225176098d52b"
	for _, s := range []string{"dk.png", "r%C3%A9sum%C3%A9.pdf", "résumé.pdf", "a%2Fb", "%2E%2E", "a b", "x)y", "a%E2%80%AE", "_..", "%"} {
		f.Add("/uploads/" + hex32 + "/" + s)
	}
	f.Add("/uploads/" + strings.ToUpper(hex32) + "/x")
	a := newAnswerServer(f)
	c := a.client(f)
	f.Fuzz(func(t *testing.T, u string) {
		a.answer(u)
		up, err := c.UploadFile(context.Background(), sdesk.File{Name: "x", Data: []byte("x")})
		if err != nil {
			return
		}
		if up.URL != u {
			t.Fatalf("URL: got %q, want the answer %q", up.URL, u)
		}
		if err := markdownSafeURL(u); err != nil {
			t.Fatalf("accepted %q: %v", u, err)
		}
		name, err := url.PathUnescape(u[len("/uploads/")+33:])
		if err != nil || up.Filename != name {
			t.Fatalf("Filename: got %q, want %q (%v)", up.Filename, name, err)
		}
		if name == "." || name == ".." || strings.ContainsAny(name, `/\`) || !utf8.ValidString(name) ||
			strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsGraphic(r) }) {
			t.Fatalf("accepted %q with file name %q", u, name)
		}
	})
}

// FuzzUploadFilename: any file a Discord user names can be uploaded to
// GitLab (the fake, with CarrierWave's rule): the answer passes
// UploadFile's check, Filename is the stored name, and the file reads
// back under it.
func FuzzUploadFilename(f *testing.F) {
	for _, s := range []string{"a.png", "screen shot.png", "../x", "...", "/", `a\`, "résumé.pdf", "\x00\xff", "\u202e", "a%2Fb", "ǅ\u0301_٣.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if name == "" {
			return
		}
		fake := gitlabfake.New(t)
		c := newClient(t, fake, withRetries(-1))
		data := []byte("data of " + name)
		up, err := c.UploadFile(context.Background(), sdesk.File{Name: name, Data: data})
		if err != nil {
			t.Fatalf("UploadFile(%q): %v", name, err)
		}
		stored := fake.Uploads()
		if len(stored) != 1 || stored[0].Filename != up.Filename || up.URL != "/uploads/"+stored[0].Secret+"/"+stored[0].Filename {
			t.Fatalf("UploadFile(%q) = %+v; stored %+v", name, up, stored)
		}
		if err := markdownSafeURL(up.URL); err != nil {
			t.Fatalf("UploadFile(%q) URL %q: %v", name, up.URL, err)
		}
		file, err := c.DownloadUpload(context.Background(), stored[0].Secret, up.Filename)
		if err != nil || !bytes.Equal(file.Data, data) {
			t.Fatalf("DownloadUpload(%q): got %q, %v; want %q", up.Filename, file.Data, err, data)
		}
	})
}
