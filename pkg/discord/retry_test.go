package discord

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

func TestLimiter(t *testing.T) {
	var l limiter
	now := time.Now()
	exhausted := &attempt{status: 200, header: http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset-After": {"0.5"}}}
	l.observe("a", exhausted, 0, now)
	l.observe("b", &attempt{status: 200, header: http.Header{"X-Ratelimit-Remaining": {"3"}, "X-Ratelimit-Reset-After": {"9"}}}, 0, now)
	if got := l.wait("a", now); got != 500*time.Millisecond {
		t.Errorf("wait(a) = %v, want 500ms", got)
	}
	if got := l.wait("b", now); got != 0 {
		t.Errorf("wait(b) = %v, want 0", got)
	}
	if got := l.wait("a", now.Add(time.Second)); got != 0 {
		t.Errorf("wait(a) after the reset = %v, want 0", got)
	}
	global := &attempt{status: 429, header: http.Header{"X-Ratelimit-Global": {"true"}}}
	l.observe("c", global, 2*time.Second, now)
	if got := l.wait("zzz", now); got != 2*time.Second {
		t.Errorf("wait after a global 429 = %v, want 2s", got)
	}
}

func TestBackoff(t *testing.T) {
	for n := range 12 {
		base := min(firstBackoff<<n, maxBackoff)
		for range 50 {
			if d := backoff(n); d < base*3/4 || d >= base*5/4 {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v)", n, d, base*3/4, base*5/4)
			}
		}
	}
}

func TestRewrite(t *testing.T) {
	rt, err := newRewriteTransport(nil, discordgo.EndpointAPI, "http://127.0.0.1:9/proxy/api/v10")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
	}{
		{discordgo.EndpointAPI + "channels/1/messages?x=1", "http://127.0.0.1:9/proxy/api/v10/channels/1/messages?x=1"},
		{discordgo.EndpointAPI + "webhooks/1/a%2Fb/messages/@original", "http://127.0.0.1:9/proxy/api/v10/webhooks/1/a%2Fb/messages/@original"},
		{"https://discord.com/api/v90/channels/1", ""},
		{"https://cdn.discordapp.com/attachments/1", ""},
		{"http://discord.com/api/v9/channels/1", ""},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rt.rewrite(u)
		if err != nil {
			t.Fatalf("rewrite(%s): %v", tt.in, err)
		}
		gotS := ""
		if got != nil {
			gotS = got.String()
		}
		if gotS != tt.want {
			t.Errorf("rewrite(%s) = %q, want %q", tt.in, gotS, tt.want)
		}
	}
}
