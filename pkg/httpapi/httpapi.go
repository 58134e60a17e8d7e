// Package httpapi serves sdesk's HTTP endpoints as one http.Handler, the
// same in `sdesk serve` and in Lambda (through aws-lambda-go-api-proxy):
//
//	POST /interactions  Discord interactions (Ed25519-signed)
//	POST /gitlab        GitLab webhook (X-Gitlab-Token, optionally signed)
//	GET  /healthz       liveness
package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	interactions "github.com/bsdlp/discord-interactions-go/interactions"
	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Body caps.
const (
	MaxInteractionBody = 1 << 20  // 1 MiB
	MaxWebhookBody     = 25 << 20 // 25 MiB
	// InteractionBudget bounds the work before an interaction's answer
	// (Discord waits 3 s).
	InteractionBudget = 2500 * time.Millisecond
	// MaxClockSkew is how far an interaction timestamp may be from now.
	MaxClockSkew = 5 * time.Minute
)

// Config wires the handler.
type Config struct {
	PublicKey ed25519.PublicKey // DISCORD_PUBLIC_KEY
	Router    *discord.Router

	Service       *sdesk.Service
	WebhookSecret string // GITLAB_WEBHOOK_SECRET
	SigningToken  string // GITLAB_WEBHOOK_SIGNING_TOKEN, optional
	Project       string // GITLAB_PROJECT: numeric ID or full path
	// ProjectID resolves GITLAB_PROJECT to its numeric ID (on the first
	// webhook, not at start); events are matched by project.id, so a
	// renamed or moved project keeps working. Nil: match Project as given.
	ProjectID func(ctx context.Context) (int, error)

	Logger *slog.Logger
	Now    func() time.Time
}

type server struct {
	Config
}

// New returns the handler. Routes that a deployment does not serve (the
// webhook function has no Router) answer 404.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &server{cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health)
	if cfg.Router != nil {
		mux.HandleFunc("POST /interactions", s.interactions)
	}
	if cfg.Service != nil {
		mux.HandleFunc("POST /gitlab", s.gitlab)
	}
	return s.logged(mux)
}

func (s *server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// interactions verifies before it parses: the body is read (capped), the
// signature over timestamp+body checked, the timestamp's age checked, and
// only then is anything decoded.
func (s *server) interactions(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, MaxInteractionBody, s.Logger)
	if !ok {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !interactions.Verify(r, s.PublicKey) {
		s.refuse(w, r, http.StatusUnauthorized, "bad or missing signature")
		return
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-Signature-Timestamp"), 10, 64)
	if err != nil {
		s.refuse(w, r, http.StatusUnauthorized, "malformed timestamp")
		return
	}
	if d := s.Now().Sub(time.Unix(ts, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		s.refuse(w, r, http.StatusUnauthorized, "stale timestamp")
		return
	}
	// Discord waits 3 s for the answer; past that the token is dead.
	ctx, cancel := context.WithTimeout(r.Context(), InteractionBudget)
	defer cancel()
	writeJSON(w, http.StatusOK, s.Router.Interact(ctx, body))
}

func (s *server) gitlab(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sdesk.AddLogAttrs(ctx,
		slog.String("gitlab_event", r.Header.Get("X-Gitlab-Event")),
		slog.String("gitlab_event_uuid", r.Header.Get("X-Gitlab-Event-UUID")),
		slog.String("idempotency_key", r.Header.Get("Idempotency-Key")))
	if !gitlab.CheckToken(r.Header.Get("X-Gitlab-Token"), s.WebhookSecret) {
		s.refuse(w, r, http.StatusUnauthorized, "bad or missing X-Gitlab-Token")
		return
	}
	body, ok := readBody(w, r, MaxWebhookBody, s.Logger)
	if !ok {
		return
	}
	if s.SigningToken != "" {
		if err := gitlab.VerifySignature(r.Header, body, s.SigningToken, s.Now()); err != nil {
			s.refuse(w, r, http.StatusUnauthorized, "webhook signature: "+err.Error())
			return
		}
	}
	ev, err := gitlab.ParseWebhook(r.Header, body)
	switch {
	case errors.Is(err, gitlab.ErrIgnored):
		sdesk.AddLogAttrs(ctx, slog.String("ignored", err.Error()))
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored"})
		return
	case err != nil:
		s.refuse(w, r, http.StatusBadRequest, "malformed webhook: "+err.Error())
		return
	}
	sdesk.AddLogAttrs(ctx, slog.Int("issue", ev.IssueIID()), slog.String("event_key", ev.Key))
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second) // GitLab waits 10 s in all
	want, err := s.projectID(pctx)
	cancel()
	if err != nil {
		ref := sdesk.NewRef()
		s.Logger.Error("webhook not accepted: GITLAB_PROJECT could not be resolved to its ID", slog.String("error_ref", ref),
			slog.String("error", err.Error()), slog.String("event_key", ev.Key))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable", "ref": ref})
		return
	}
	if ev.ProjectID != want {
		sdesk.AddLogAttrs(ctx, slog.String("ignored", fmt.Sprintf("project %d (%s) is not GITLAB_PROJECT %s (ID %d)", ev.ProjectID, ev.ProjectPath, s.Project, want)))
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored"})
		return
	}
	if err := s.Service.HandleEvent(ctx, ev); err != nil {
		ref := sdesk.NewRef()
		s.Logger.Error("webhook not accepted", slog.String("error_ref", ref), slog.String("error", err.Error()),
			slog.String("event_key", ev.Key), slog.Int("issue", ev.IssueIID()))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable", "ref": ref})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// projectID is the numeric ID of GITLAB_PROJECT.
func (s *server) projectID(ctx context.Context) (int, error) {
	if id, err := strconv.Atoi(s.Project); err == nil {
		return id, nil
	}
	if s.ProjectID == nil {
		return 0, fmt.Errorf("GITLAB_PROJECT %q is a path and nothing resolves it", s.Project)
	}
	return s.ProjectID(ctx)
}

// refuse answers a client error and logs why; the reason never contains a
// secret.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	sdesk.AddLogAttrs(r.Context(), slog.String("refused", reason))
	writeJSON(w, status, map[string]string{"error": http.StatusText(status)})
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64, log *slog.Logger) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		sdesk.AddLogAttrs(r.Context(), slog.String("refused", fmt.Sprintf("body over %d bytes", limit)))
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": http.StatusText(http.StatusRequestEntityTooLarge)})
		return nil, false
	case err != nil:
		sdesk.AddLogAttrs(r.Context(), slog.String("refused", "body not read: "+err.Error()))
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": http.StatusText(http.StatusBadRequest)})
		return nil, false
	}
	return body, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// logged writes one JSON log line per request and turns a panic into a 500
// whose body says nothing of it.
func (s *server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := sdesk.WithLogAttrs(r.Context())
		rec := &recorder{ResponseWriter: w}
		defer func() {
			level := slog.LevelInfo
			if p := recover(); p != nil {
				s.Logger.Error("panic", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, map[string]string{"error": "Internal Server Error"})
				}
				level = slog.LevelError
			}
			attrs := append([]slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", rec.status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			}, sdesk.LogAttrs(ctx)...)
			if rec.status >= 500 {
				level = slog.LevelError
			}
			s.Logger.LogAttrs(context.Background(), level, "request", attrs...)
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}
