package gitlab_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// TestFileTransfersOutlastTheAPITimeout: uploads and downloads of files
// are bounded by the caller's context, not by the HTTP client's timeout
// for API calls: a file may take longer than an API call (here the client
// allows 100 ms and GitLab takes 300 ms per file).
func TestFileTransfersOutlastTheAPITimeout(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond) // a slow link
		_, _ = io.Copy(io.Discard, r.Body)
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/uploads"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":1,"alt":"big","url":"/uploads/`+secret+`/big.log","full_path":"/acme/support/uploads/`+secret+`/big.log","markdown":"[big.log](/uploads/`+secret+`/big.log)"}`)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/uploads/"+secret+"/big.log"):
			_, _ = io.WriteString(w, "log line\n")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := gitlab.NewClient(gitlab.ClientConfig{BaseURL: srv.URL, Token: "t", Project: "acme/support", MaxRetries: -1,
		HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	up, err := c.UploadFile(ctx, sdesk.File{Name: "big.log", Data: []byte("log line\n")})
	if err != nil || up.URL != "/uploads/"+secret+"/big.log" {
		t.Errorf("UploadFile: got %+v, %v; want the upload", up, err)
	}
	f, err := c.DownloadUpload(ctx, secret, "big.log")
	if err != nil || string(f.Data) != "log line\n" {
		t.Errorf("DownloadUpload: got %q, %v; want the file", f.Data, err)
	}
	// The context still bounds them.
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := c.UploadFile(short, sdesk.File{Name: "big.log", Data: []byte("x")}); err == nil {
		t.Error("UploadFile past the context's deadline: got no error")
	}
}
