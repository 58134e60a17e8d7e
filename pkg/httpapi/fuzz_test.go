package httpapi_test

import (
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/internal/devkey"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/httpapi"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// FuzzInteractions feeds signed and unsigned bodies through the verifier and
// the decoder: a correctly signed body always gets 200 and a JSON answer of
// a type sdesk sends; a body whose signature does not match gets 401.
func FuzzInteractions(f *testing.F) {
	f.Add([]byte(ping), false)
	f.Add([]byte(`{"type":2,"id":"1","token":"t","data":{"name":"report","type":1}}`), false)
	f.Add([]byte(`{"type":5,"id":"1","token":"t","guild_id":"1","data":{"custom_id":"report","components":[{"type":18}]}}`), false)
	f.Add([]byte(`{"type":3,"id":"1","token":"t","channel_id":"1","data":{"custom_id":"close/abc","component_type":2}}`), false)
	f.Add([]byte(`{"type":1}`), true)
	st, err := bolt.Open(filepath.Join(f.TempDir(), "sdesk.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	svc := &sdesk.Service{Store: st, Logger: logger}
	h := httpapi.New(httpapi.Config{
		PublicKey: devkey.Key.Public().(ed25519.PublicKey),
		Router:    &discord.Router{Service: svc, Logger: logger},
		Logger:    logger,
	})
	f.Fuzz(func(t *testing.T, body []byte, tamper bool) {
		r := httptest.NewRequest(http.MethodPost, "/interactions", strings.NewReader(string(body)))
		sig, ts := devkey.Sign(devkey.Key, body, now)
		if tamper {
			sig, ts = devkey.Sign(devkey.Key, append([]byte("x"), body...), now)
		}
		r.Header.Set("X-Signature-Ed25519", sig)
		r.Header.Set("X-Signature-Timestamp", ts)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case len(body) > httpapi.MaxInteractionBody:
			if w.Code != 413 {
				t.Fatalf("oversized: got %d, want 413", w.Code)
			}
		case tamper:
			if w.Code != 401 {
				t.Fatalf("tampered: got %d, want 401", w.Code)
			}
		default:
			if w.Code != 200 {
				t.Fatalf("signed: got %d, want 200 (%s)", w.Code, w.Body)
			}
			var resp struct {
				Type int `json:"type"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatalf("answer %s: %v", w.Body, err)
			}
			switch resp.Type {
			case 1, 4, 5, 9:
			default:
				t.Fatalf("answer type: got %d, want 1, 4, 5 or 9", resp.Type)
			}
		}
	})
}
