package gitlabfake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
)

// multipartBody is a multipart/form-data body with one file part.
func multipartBody(t *testing.T, field, filename string, data []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, err := w.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), b.Bytes()
}

// do sends a request to the fake and returns the status, Content-Type and
// body of its answer.
func do(t *testing.T, method, url, token, contentType string, body []byte) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("PRIVATE-TOKEN", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

var secretURLRe = regexp.MustCompile(`^/uploads/([0-9a-f]{32})/(.+)$`)

// TestUploadAPI: POST /projects/:id/uploads answers GitLab's documented
// shape (https://docs.gitlab.com/api/project_markdown_uploads/) and the
// file is then served under the API and the /-/project/<id> web form.
func TestUploadAPI(t *testing.T) {
	tests := []struct {
		name, sent, stored, alt, markdownPrefix string
	}{
		{"image", "dk.png", "dk.png", "dk", "!["},
		{"text with a space", "app log.txt", "app_log.txt", "app_log.txt", "["},
		{"path", "../../x.pdf", "x.pdf", "x.pdf", "["},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := gitlabfake.New(t)
			data := []byte("bytes of " + tt.sent)
			ct, body := multipartBody(t, "file", tt.sent, data)
			status, _, answer := do(t, "POST", f.URL()+"/api/v4/projects/acme%2Fsupport/uploads", f.Token(), ct, body)
			if status != http.StatusCreated {
				t.Fatalf("POST uploads: got %d %s, want 201", status, answer)
			}
			var got struct {
				ID       int    `json:"id"`
				Alt      string `json:"alt"`
				URL      string `json:"url"`
				FullPath string `json:"full_path"`
				Markdown string `json:"markdown"`
			}
			if err := json.Unmarshal(answer, &got); err != nil {
				t.Fatalf("answer %s: %v", answer, err)
			}
			m := secretURLRe.FindStringSubmatch(got.URL)
			if m == nil || m[2] != tt.stored {
				t.Fatalf("url: got %q, want /uploads/<32 hex>/%s", got.URL, tt.stored)
			}
			if got.ID == 0 || got.Alt != tt.alt || got.FullPath != "/-/project/4242"+got.URL || got.Markdown != tt.markdownPrefix+tt.alt+"]("+got.URL+")" {
				t.Errorf("answer: got %+v, want an id, alt %q, full_path /-/project/4242%s, markdown %s%s](url)", got, tt.alt, got.URL, tt.markdownPrefix, tt.alt)
			}
			if u := f.Uploads(); len(u) != 1 || u[0].Secret != m[1] || u[0].Filename != tt.stored || !bytes.Equal(u[0].Data, data) {
				t.Errorf("Uploads: got %+v, want one %s/%s with the data", u, m[1], tt.stored)
			}
			for _, path := range []string{
				"/api/v4/projects/4242" + got.URL,
				"/api/v4/projects/acme%2Fsupport" + got.URL,
				"/-/project/4242" + got.URL,
			} {
				status, _, b := do(t, "GET", f.URL()+path, f.Token(), "", nil)
				if status != http.StatusOK || !bytes.Equal(b, data) {
					t.Errorf("GET %s: got %d %q, want 200 %q", path, status, b, data)
				}
			}
			for _, tc := range []struct{ path, token string }{
				{"/-/project/4243" + got.URL, f.Token()},
				{"/-/project/4242/uploads/" + strings.Repeat("0", 32) + "/" + tt.stored, f.Token()},
				{"/-/project/acme/uploads/" + m[1] + "/" + tt.stored, f.Token()},
			} {
				if status, _, _ := do(t, "GET", f.URL()+tc.path, tc.token, "", nil); status != http.StatusNotFound {
					t.Errorf("GET %s: got %d, want 404", tc.path, status)
				}
			}
			if status, _, _ := do(t, "GET", f.URL()+"/-/project/4242"+got.URL, "", "", nil); status != http.StatusUnauthorized {
				t.Errorf("GET the web form without the token: got %d, want 401", status)
			}
		})
	}
}

func TestUploadAPIRefusals(t *testing.T) {
	f := gitlabfake.New(t)
	f.SetMaxUploadBytes(10)
	ct, body := multipartBody(t, "file", "a.txt", []byte("0123456789"))
	bigCT, big := multipartBody(t, "file", "a.txt", []byte("0123456789x"))
	otherCT, other := multipartBody(t, "attachment", "a.txt", []byte("x"))
	tests := []struct {
		name, path, token, contentType string
		body                           []byte
		wantStatus                     int
		wantBody                       string
	}{
		{"no token", "/api/v4/projects/4242/uploads", "", ct, body, 401, `"401 Unauthorized"`},
		{"wrong token", "/api/v4/projects/4242/uploads", "nope", ct, body, 401, `"401 Unauthorized"`},
		{"other project", "/api/v4/projects/4243/uploads", f.Token(), ct, body, 404, `Project Not Found`},
		{"no file part", "/api/v4/projects/4242/uploads", f.Token(), otherCT, other, 400, `{"error":"file is missing"}`},
		{"JSON body", "/api/v4/projects/4242/uploads", f.Token(), "application/json", []byte(`{"file":"x"}`), 400, `file is missing`},
		{"over the limit", "/api/v4/projects/4242/uploads", f.Token(), bigCT, big, 413, "Request Entity Too Large"},
		{"at the limit", "/api/v4/projects/4242/uploads", f.Token(), ct, body, 201, `"url":"/uploads/`},
	}
	for _, tt := range tests {
		status, contentType, b := do(t, "POST", f.URL()+tt.path, tt.token, tt.contentType, tt.body)
		if status != tt.wantStatus || !strings.Contains(string(b), tt.wantBody) {
			t.Errorf("%s: got %d %s, want %d containing %s", tt.name, status, b, tt.wantStatus, tt.wantBody)
		}
		if tt.wantStatus == 413 && !strings.HasPrefix(contentType, "text/plain") {
			t.Errorf("%s: got Content-Type %q, want text/plain (Workhorse's answer)", tt.name, contentType)
		}
	}
	if u := f.Uploads(); len(u) != 1 || string(u[0].Data) != "0123456789" {
		t.Errorf("Uploads: got %+v, want only the one at the limit", u)
	}
	f.FailNext("POST", "/projects/:id/uploads", http.StatusBadGateway, 1)
	if status, _, _ := do(t, "POST", f.URL()+"/api/v4/projects/4242/uploads", f.Token(), ct, body); status != http.StatusBadGateway {
		t.Errorf("FailNext: got %d, want 502", status)
	}
	if n := f.CountRequests("POST", "/projects/:id/uploads"); n != len(tests)+1 {
		t.Errorf("CountRequests: got %d, want %d", n, len(tests)+1)
	}
}

func TestAddUploadListed(t *testing.T) {
	f := gitlabfake.New(t)
	f.AddUpload("s1", "a.txt", []byte("one"))
	f.AddUpload("s2", "b.txt", []byte("two"))
	f.AddUpload("s1", "a.txt", []byte("new"))
	got := f.Uploads()
	want := []gitlabfake.Upload{{Secret: "s1", Filename: "a.txt", Data: []byte("new")}, {Secret: "s2", Filename: "b.txt", Data: []byte("two")}}
	if len(got) != len(want) {
		t.Fatalf("Uploads: got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Secret != want[i].Secret || got[i].Filename != want[i].Filename || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("Uploads[%d]: got %+v, want %+v", i, got[i], want[i])
		}
	}
	got[0].Data[0] = 'X'
	if f.Uploads()[0].Data[0] != 'n' {
		t.Error("Uploads: the copy shares its data with the fake")
	}
}

func TestSanitizeFilename(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dk.png", "dk.png"},
		{"screen shot (2).png", "screen_shot__2_.png"},
		{"résumé.pdf", "résumé.pdf"},
		{"a+b_c-d.tar.gz", "a+b_c-d.tar.gz"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\ada\log.txt`, "log.txt"},
		{"dir/", "dir"},
		{"a//", "a"},
		{"/", "_"},
		{"//", "_"},
		{"", "unnamed"},
		{".", "_."},
		{"..", "_.."},
		{"...", "_..."},
		{"a\xffb", "a_b"},
		{"\u202egnp.exe", "_gnp.exe"},
		{"日本語.txt", "日本語.txt"},
		{"x\u0301y", "x\u0301y"},
		{"٣.txt", "٣.txt"},
		{"Ⅻ.txt", "_.txt"},
		{"a‿b", "a‿b"},
	}
	for _, tt := range tests {
		if got := gitlabfake.SanitizeFilename(tt.in); got != tt.want {
			t.Errorf("SanitizeFilename(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// keptRune is a character CarrierWave's default sanitize_regexp keeps:
// Ruby's [[:word:]] (Letter, Mark, Decimal_Number,
// Connector_Punctuation), ".", "-" and "+".
func keptRune(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.Nd, unicode.Pc) || r == '.' || r == '-' || r == '+'
}

// FuzzSanitizeFilename: a stored name is never empty, has only kept
// characters, is never "." or "..", is its own sanitized form, and a name
// that already has only kept characters (and is not all dots) is stored
// as it is.
func FuzzSanitizeFilename(f *testing.F) {
	for _, s := range []string{"dk.png", "a b", "../x", `a\b`, "/", "", "..", "\xff", "日本語", "x\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := gitlabfake.SanitizeFilename(in)
		if got == "" || strings.Trim(got, ".") == "" || strings.ContainsFunc(got, func(r rune) bool { return !keptRune(r) }) {
			t.Fatalf("SanitizeFilename(%q) = %q: want a non-empty name of kept characters, not only dots", in, got)
		}
		if again := gitlabfake.SanitizeFilename(got); again != got {
			t.Fatalf("SanitizeFilename(%q) = %q, but SanitizeFilename(%q) = %q", in, got, got, again)
		}
		if strings.Trim(in, ".") != "" && !strings.ContainsFunc(in, func(r rune) bool { return !keptRune(r) }) && got != in {
			t.Fatalf("SanitizeFilename(%q) = %q, want it unchanged", in, got)
		}
	})
}
