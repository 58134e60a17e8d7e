package discord_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// TestRefusedURLKeepsSignatureOutOfErrors: the download's errors
// "name u without its query: the CDN's signature (ex, is, hm) stays out of
// logs". A URL refused by attachmentURL (directly, or as a redirect's
// target) is printed with its whole query, signature included, and that
// text reaches the job's error and the "job failed" log line.
func TestRefusedURLKeepsSignatureOutOfErrors(t *testing.T) {
	const sig = "hm=0123456789abcdef0123456789abcdef"
	t.Run("refused URL", func(t *testing.T) {
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			t.Errorf("request sent to %s", r.URL)
			return nil, io.EOF
		})
		c, err := discord.NewClient(discord.ClientConfig{BotToken: "t", ApplicationID: appID, APIURL: "https://discord.com/api/v10",
			HTTPClient: &http.Client{Transport: rt}})
		if err != nil {
			t.Fatal(err)
		}
		raw := "https://cdn.discord.com/attachments/1/2/a.png?ex=68000000&is=67000000&" + sig + "&"
		_, err = c.DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a.png", URL: raw, Size: 1}, 100)
		if err == nil || strings.Contains(err.Error(), sig) {
			t.Errorf("error names the signed query: %v", err)
		}
		if !sdesk.IsPermanent(err) {
			t.Errorf("refused URL: got %v, want a permanent error", err)
		}
	})
	t.Run("redirect target", func(t *testing.T) {
		srv := newCDN(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Redirect(w, r, "https://elsewhere.example/a.png?ex=1&is=2&"+sig, http.StatusFound)
		})
		_, err := srv.client(t).DownloadAttachment(context.Background(), sdesk.Attachment{Filename: "a.png", URL: srv.srv.URL + "/a.png?ex=1&is=2&hm=aa"}, 100)
		if err == nil || strings.Contains(err.Error(), sig) {
			t.Errorf("error names the redirect target's signed query: %v", err)
		}
	})
}
