package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/config"
)

// BenchmarkModalSubmitAck measures the answer to a /report modal submit,
// in process, while GitLab takes 5 s per request: the answer must not wait
// for it.
func BenchmarkModalSubmitAck(b *testing.B) {
	env := e2e.New(b)
	env.GitLab.SetDelay(5 * time.Second)
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Serve, slog.New(slog.NewJSONHandler(io.Discard, nil)), withStore(b, cfg))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := a.Pool.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); a.Pool.Wait(); a.Close() }()

	subs := make([]e2e.Interaction, b.N)
	for i := range subs {
		subs[i] = env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Slow GitLab", "description": "Benchmark report."})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest(http.MethodPost, "/interactions", bytes.NewReader(subs[i].Body))
		r.Header = env.Sign(subs[i].Body)
		w := httptest.NewRecorder()
		a.Handler.ServeHTTP(w, r)
		if w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte(`"type":5`)) {
			b.Fatalf("got %d %s, want a deferred answer", w.Code, w.Body)
		}
	}
}
