package discord

import (
	"net/http"
	"testing"
	"time"
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
