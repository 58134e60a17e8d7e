package httpapi_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/devkey"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/httpapi"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

const (
	secret       = "webhook-secret-value"
	signingKey   = "c2Rlc2stdGVzdC1zaWduaW5nLWtleS0zMi1ieXRlcyE="
	signingToken = "whsec_" + signingKey
)

var now = time.Now().Truncate(time.Second)

type env struct {
	handler http.Handler
	logs    *bytes.Buffer
	store   sdesk.Store
}

func newEnv(t *testing.T, signing string) env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "sdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := &sdesk.Service{Store: st, Logger: logger}
	h := httpapi.New(httpapi.Config{
		PublicKey: devkey.Key.Public().(ed25519.PublicKey),
		Router:    &discord.Router{Service: svc, Logger: logger},
		Service:   svc, WebhookSecret: secret, SigningToken: signing, Project: "4242",
		Logger: logger, Now: func() time.Time { return now },
	})
	return env{handler: h, logs: logs, store: st}
}

func (e env) do(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	return w
}

func signed(key ed25519.PrivateKey, body string, at time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/interactions", strings.NewReader(body))
	sig, ts := devkey.Sign(key, []byte(body), at)
	r.Header.Set("X-Signature-Ed25519", sig)
	r.Header.Set("X-Signature-Timestamp", ts)
	r.Header.Set("Content-Type", "application/json")
	return r
}

const ping = `{"id":"1300000000000000001","application_id":"1200000000000000001","type":1,"token":"t","version":1}`

func TestInteractionsAuth(t *testing.T) {
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		body   string
	}{
		{"valid ping", func() *http.Request { return signed(devkey.Key, ping, now) }, 200, `{"type":1}`},
		{"ping signed 4 minutes ago", func() *http.Request { return signed(devkey.Key, ping, now.Add(-4*time.Minute)) }, 200, `{"type":1}`},
		{"no signature", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/interactions", strings.NewReader(ping))
		}, 401, ""},
		{"other key", func() *http.Request { return signed(otherKey, ping, now) }, 401, ""},
		{"body changed after signing", func() *http.Request {
			r := signed(devkey.Key, ping, now)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(ping, `"type":1`, `"type":2`, 1)))
			return r
		}, 401, ""},
		{"flipped signature bit", func() *http.Request {
			r := signed(devkey.Key, ping, now)
			sig := []byte(r.Header.Get("X-Signature-Ed25519"))
			if sig[0] == '0' {
				sig[0] = '1'
			} else {
				sig[0] = '0'
			}
			r.Header.Set("X-Signature-Ed25519", string(sig))
			return r
		}, 401, ""},
		{"timestamp changed after signing", func() *http.Request {
			r := signed(devkey.Key, ping, now)
			r.Header.Set("X-Signature-Timestamp", strconv.FormatInt(now.Unix()+1, 10))
			return r
		}, 401, ""},
		{"stale timestamp", func() *http.Request { return signed(devkey.Key, ping, now.Add(-6*time.Minute)) }, 401, ""},
		{"future timestamp", func() *http.Request { return signed(devkey.Key, ping, now.Add(6*time.Minute)) }, 401, ""},
		{"oversized body", func() *http.Request {
			return signed(devkey.Key, `{"type":1,"pad":"`+strings.Repeat("x", httpapi.MaxInteractionBody)+`"}`, now)
		}, 413, ""},
		{"GET", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/interactions", nil) }, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "")
			w := e.do(t, tt.req())
			if w.Code != tt.status {
				t.Fatalf("status: got %d, want %d (body %s)", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Content-Type"); w.Code != 405 && got != "application/json" {
				t.Errorf("content type: got %q, want application/json", got)
			}
			if tt.body != "" && strings.TrimSpace(w.Body.String()) != tt.body {
				t.Errorf("body: got %s, want %s", w.Body, tt.body)
			}
		})
	}
}

func TestInteractionsUnsupported(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"garbage", `{"type":2,"id":`, "not supported"},
		{"unknown component type in modal submit", `{"id":"1300000000000000009","type":5,"token":"t","guild_id":"1200000000000000005","channel_id":"1200000000000000006","member":{"user":{"id":"1200000000000000007","username":"u"}},"data":{"custom_id":"report","components":[{"type":18,"component":{"type":99,"custom_id":"title","value":"x"}}]}}`, "not supported"},
		{"report submit without a description", `{"id":"1300000000000000012","type":5,"token":"t","guild_id":"1200000000000000005","channel_id":"1200000000000000006","member":{"user":{"id":"1200000000000000007","username":"u"}},"data":{"custom_id":"report","components":[{"type":18,"component":{"type":4,"custom_id":"title","value":"x"}}]}}`, "not supported"},
		{"unknown command", `{"id":"1300000000000000010","type":2,"token":"t","guild_id":"1200000000000000005","channel_id":"1200000000000000006","member":{"user":{"id":"1200000000000000007","username":"u"}},"data":{"id":"1","name":"frobnicate","type":1}}`, "not known"},
		{"unknown button", `{"id":"1300000000000000011","type":3,"token":"t","guild_id":"1200000000000000005","channel_id":"1200000000000000006","member":{"user":{"id":"1200000000000000007","username":"u"}},"message":{"id":"1","channel_id":"1200000000000000006"},"data":{"custom_id":"nope/3","component_type":2}}`, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "")
			w := e.do(t, signed(devkey.Key, tt.body, now))
			if w.Code != 200 {
				t.Fatalf("status: got %d, want 200", w.Code)
			}
			var resp struct {
				Type int `json:"type"`
				Data struct {
					Content string `json:"content"`
					Flags   int    `json:"flags"`
				} `json:"data"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Type != 4 || resp.Data.Flags&64 == 0 || !strings.Contains(resp.Data.Content, tt.want) {
				t.Errorf("got type %d flags %d %q, want an ephemeral message containing %q", resp.Type, resp.Data.Flags, resp.Data.Content, tt.want)
			}
		})
	}
}

func gitlabRequest(body, token, event string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/gitlab", strings.NewReader(body))
	if token != "" {
		r.Header.Set("X-Gitlab-Token", token)
	}
	r.Header.Set("X-Gitlab-Event", event)
	r.Header.Set("Content-Type", "application/json")
	return r
}

func issueHook(project int) string {
	return fmt.Sprintf(`{"object_kind":"issue","event_type":"issue","user":{"id":11,"name":"Ada","username":"ada"},
"project":{"id":%d,"path_with_namespace":"acme/support","web_url":"https://gitlab.example.com/acme/support"},
"object_attributes":{"id":90007,"iid":7,"project_id":%d,"title":"t","state":"closed","action":"close","updated_at":"2026-11-24T10:00:00Z","url":"https://gitlab.example.com/acme/support/-/issues/7"},
"changes":{}}`, project, project)
}

func TestWebhook(t *testing.T) {
	tests := []struct {
		name   string
		req    *http.Request
		status int
		log    string
	}{
		{"no token", gitlabRequest(issueHook(4242), "", "Issue Hook"), 401, "X-Gitlab-Token"},
		{"wrong token", gitlabRequest(issueHook(4242), "nope", "Issue Hook"), 401, "X-Gitlab-Token"},
		{"malformed JSON", gitlabRequest(`{"object_kind":`, secret, "Issue Hook"), 400, "malformed"},
		{"push hook ignored", gitlabRequest(`{"object_kind":"push"}`, secret, "Push Hook"), 200, "ignored"},
		{"other project ignored", gitlabRequest(issueHook(1), secret, "Confidential Issue Hook"), 200, "project 1 (acme/support) is not GITLAB_PROJECT 4242"},
		{"unmapped issue", gitlabRequest(issueHook(4242), secret, "Confidential Issue Hook"), 200, `"level":"DEBUG","msg":"event for an issue sdesk did not make"`},
		{"oversized", gitlabRequest(`{"pad":"`+strings.Repeat("x", httpapi.MaxWebhookBody)+`"}`, secret, "Issue Hook"), 413, "body over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "")
			w := e.do(t, tt.req)
			if w.Code != tt.status {
				t.Fatalf("status: got %d, want %d (body %s)", w.Code, tt.status, w.Body)
			}
			if !strings.Contains(e.logs.String(), tt.log) {
				t.Errorf("log: got %s, want it to contain %q", e.logs, tt.log)
			}
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("log contains the webhook secret: %s", e.logs)
			}
			jobs, _ := e.store.ListJobs(t.Context(), sdesk.JobPending)
			if len(jobs) != 0 {
				t.Errorf("jobs: got %d, want none", len(jobs))
			}
		})
	}
}

func sign(id string, ts time.Time, body string) string {
	key, _ := base64.StdEncoding.DecodeString(signingKey)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts.Unix(), body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestWebhookSigned(t *testing.T) {
	body := issueHook(4242)
	tests := []struct {
		name   string
		id     string
		ts     time.Time
		sig    string
		status int
	}{
		{"valid", "msg_1", now, sign("msg_1", now, body), 200},
		{"valid among several", "msg_1", now, "v1,AAAA " + sign("msg_1", now, body), 200},
		{"missing", "", time.Time{}, "", 401},
		{"wrong signature", "msg_1", now, sign("msg_2", now, body), 401},
		{"stale", "msg_1", now.Add(-6 * time.Minute), sign("msg_1", now.Add(-6*time.Minute), body), 401},
		{"future", "msg_1", now.Add(6 * time.Minute), sign("msg_1", now.Add(6*time.Minute), body), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, signingToken)
			r := gitlabRequest(body, secret, "Confidential Issue Hook")
			if tt.id != "" {
				r.Header.Set("webhook-id", tt.id)
				r.Header.Set("webhook-timestamp", strconv.FormatInt(tt.ts.Unix(), 10))
				r.Header.Set("webhook-signature", tt.sig)
			}
			if w := e.do(t, r); w.Code != tt.status {
				t.Errorf("status: got %d, want %d (body %s)", w.Code, tt.status, w.Body)
			}
		})
	}
}

func TestHealthAndLogLine(t *testing.T) {
	e := newEnv(t, "")
	w := e.do(t, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "ok") {
		t.Fatalf("healthz: got %d %s, want 200 ok", w.Code, w.Body)
	}
	e.do(t, signed(devkey.Key, ping, now))
	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines: got %d, want 2 (one per request): %s", len(lines), e.logs)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &line); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"method": "POST", "path": "/interactions", "status": 200.0, "interaction_id": "1300000000000000001"} {
		if line[k] != want {
			t.Errorf("log %s: got %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["duration_ms"]; !ok {
		t.Errorf("log: got no duration_ms in %v", line)
	}
}
