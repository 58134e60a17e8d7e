package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/chaos"
)

// upstream is a server that counts the requests it acted on.
func upstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusCreated)
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, `{"echo":`+strconv.Quote(r.Method+" "+r.URL.RequestURI()+" "+string(b))+`}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

type answer struct {
	status int
	header http.Header
	body   string
	err    error
}

func call(t *testing.T, url string, timeout time.Duration) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v10/channels/1234/messages?x=1", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	// A fresh connection each time: a dropped reused connection could be
	// retried by the transport.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func TestProxyFaults(t *testing.T) {
	tests := []struct {
		kind      chaos.Kind
		flavor    chaos.Flavor
		status    []int // one of; 0: no answer
		forwarded bool
		check     func(t *testing.T, a answer)
	}{
		{chaos.None, chaos.Discord, []int{201}, true, func(t *testing.T, a answer) {
			if a.header.Get("X-Upstream") != "yes" || !strings.Contains(a.body, `POST /api/v10/channels/1234/messages?x=1 hello`) {
				t.Errorf("got %v %q, want the upstream's answer to the same method, path, query and body", a.header, a.body)
			}
		}},
		{chaos.RateLimit, chaos.Discord, []int{429}, false, func(t *testing.T, a answer) {
			var rl struct {
				Message    string   `json:"message"`
				RetryAfter *float64 `json:"retry_after"`
				Global     *bool    `json:"global"`
			}
			if err := json.Unmarshal([]byte(a.body), &rl); err != nil || rl.Message != "You are being rate limited." || rl.RetryAfter == nil || rl.Global == nil || *rl.Global {
				t.Fatalf("body: got %q (%v), want Discord's rate-limit JSON", a.body, err)
			}
			if *rl.RetryAfter < 0.05 || *rl.RetryAfter > 1 {
				t.Errorf("retry_after: got %v, want 0.05 to 1 s", *rl.RetryAfter)
			}
			if got, want := a.header.Get("Retry-After"), strconv.Itoa(int(math.Ceil(*rl.RetryAfter))); got != want {
				t.Errorf("Retry-After: got %q, want %q", got, want)
			}
			ra, err := strconv.ParseFloat(a.header.Get("X-RateLimit-Reset-After"), 64)
			if err != nil || math.Abs(ra-*rl.RetryAfter) > 0.001 || a.header.Get("X-RateLimit-Remaining") != "0" || a.header.Get("X-RateLimit-Scope") != "user" {
				t.Errorf("rate-limit headers: got %v, want Reset-After = retry_after, Remaining 0, Scope user", a.header)
			}
		}},
		{chaos.RateLimit, chaos.GitLab, []int{429}, false, func(t *testing.T, a answer) {
			if ra := a.header.Get("Retry-After"); ra != "" && ra != "1" {
				t.Errorf("Retry-After: got %q, want none or 1", ra)
			}
			if a.header.Get("X-RateLimit-Reset-After") != "" {
				t.Errorf("headers: got %v, want none of Discord's", a.header)
			}
		}},
		{chaos.ServerError, chaos.Discord, []int{500, 502, 503}, false, nil},
		{chaos.ServerError, chaos.GitLab, []int{500, 502, 503}, false, nil},
		{chaos.ServerErrorAfter, chaos.GitLab, []int{500, 502, 504}, true, nil},
		{chaos.Drop, chaos.Discord, []int{0}, false, nil},
		{chaos.DropAfter, chaos.Discord, []int{0}, true, nil},
		{chaos.Timeout, chaos.GitLab, []int{0}, false, nil},
		{chaos.TimeoutAfter, chaos.Discord, []int{0}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			up, hits := upstream(t)
			kinds := []chaos.Kind{tt.kind}
			rate := 1.0
			if tt.kind == chaos.None {
				kinds, rate = nil, 0
			}
			p := chaos.NewProxy(t, up.URL, chaos.Options{Name: "t", Flavor: tt.flavor, Seed: 7, Rate: rate, Kinds: kinds, MaxHold: 5 * time.Second})
			start := time.Now()
			a := call(t, p.URL(), 300*time.Millisecond)
			took := time.Since(start)
			got := a.status
			if a.err != nil {
				got = 0
			}
			ok := false
			for _, s := range tt.status {
				ok = ok || s == got
			}
			if !ok {
				t.Fatalf("got status %d (%v), want one of %v", got, a.err, tt.status)
			}
			if tt.check != nil {
				tt.check(t, a)
			}
			if (tt.kind == chaos.Timeout || tt.kind == chaos.TimeoutAfter) && (!errors.Is(a.err, context.DeadlineExceeded) || took < 300*time.Millisecond) {
				t.Errorf("got %v after %s, want the client's own deadline to end the call", a.err, took)
			}
			if n := hits.Load(); (n == 1) != tt.forwarded || n > 1 {
				t.Errorf("upstream saw %d requests, want forwarded=%v", n, tt.forwarded)
			}
			if tt.kind.Forwards() != tt.forwarded {
				t.Errorf("Forwards: got %v, want %v", tt.kind.Forwards(), tt.forwarded)
			}
			st := p.Stats()
			if st.Requests != 1 || st.Faults[tt.kind] != 1 {
				t.Errorf("stats: got %+v, want one request with fault %s", st, tt.kind)
			}
			if f := p.Faults(); (tt.kind == chaos.None) != (len(f) == 0) || len(f) > 1 || len(f) == 1 && (f[0].Kind != tt.kind || f[0].Route != "POST /api/:id/channels/:id/messages" || f[0].Status != got) {
				t.Errorf("faults: got %v, want one %s on the route, status %d", f, tt.kind, got)
			}
		})
	}
}

// A held request ends when the proxy's MaxHold passes, without an answer.
func TestProxyMaxHold(t *testing.T) {
	up, hits := upstream(t)
	p := chaos.NewProxy(t, up.URL, chaos.Options{Name: "t", Seed: 1, Rate: 1, Kinds: []chaos.Kind{chaos.TimeoutAfter}, MaxHold: 200 * time.Millisecond})
	start := time.Now()
	a := call(t, p.URL(), 5*time.Second)
	if a.err == nil || errors.Is(a.err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Errorf("got %v after %s, want the connection closed after about 200 ms", a.err, time.Since(start))
	}
	if hits.Load() != 1 {
		t.Errorf("upstream saw %d requests, want 1", hits.Load())
	}
}

func TestSetRateAndIdle(t *testing.T) {
	up, _ := upstream(t)
	p := chaos.NewProxy(t, up.URL, chaos.Options{Name: "t", Seed: 1, Rate: 1, Kinds: []chaos.Kind{chaos.ServerError}})
	if a := call(t, p.URL(), time.Second); a.status/100 != 5 {
		t.Fatalf("rate 1: got %d %v, want a 5xx", a.status, a.err)
	}
	p.SetRate(0)
	if a := call(t, p.URL(), time.Second); a.status != 201 {
		t.Errorf("rate 0: got %d %v, want the upstream's 201", a.status, a.err)
	}
	if p.Idle(time.Hour) {
		t.Error("Idle(1h) just after a request: got true")
	}
	time.Sleep(60 * time.Millisecond)
	if !p.Idle(50 * time.Millisecond) {
		t.Error("Idle(50ms) 60 ms after the last request: got false")
	}
}

func TestDecide(t *testing.T) {
	o := chaos.Options{Name: "discord", Seed: 42}
	const n = 4000
	faults := 0
	kinds := map[chaos.Kind]int{}
	for i := 1; i <= n; i++ {
		d := chaos.Decide(o, 0.2, "POST /api/:id/channels/:id/messages", i)
		if d != chaos.Decide(o, 0.2, "POST /api/:id/channels/:id/messages", i) {
			t.Fatalf("request %d: two decisions differ", i)
		}
		if d.Kind != chaos.None {
			faults++
			kinds[d.Kind]++
		}
		if d.Kind == chaos.RateLimit && (d.RetryAfter < 50*time.Millisecond || d.RetryAfter > time.Second) {
			t.Errorf("request %d: retry_after %s, want 50 ms to 1 s", i, d.RetryAfter)
		}
		if z := chaos.Decide(o, 0, "x", i); z.Kind != chaos.None {
			t.Fatalf("rate 0: got %v", z)
		}
		if one := chaos.Decide(o, 1, "x", i); one.Kind == chaos.None {
			t.Fatalf("rate 1: got no fault")
		}
	}
	if share := float64(faults) / n; share < 0.17 || share > 0.23 {
		t.Errorf("fault share: got %.3f, want about 0.2", share)
	}
	for _, k := range chaos.AllKinds {
		if kinds[k] < faults/len(chaos.AllKinds)/2 {
			t.Errorf("kind %s: %d of %d faults, want about a seventh", k, kinds[k], faults)
		}
	}
	same := 0
	other := chaos.Options{Name: "discord", Seed: 43}
	for i := 1; i <= n; i++ {
		if chaos.Decide(o, 0.2, "r", i) == chaos.Decide(other, 0.2, "r", i) {
			same++
		}
	}
	if same == n {
		t.Error("seeds 42 and 43 gave the same schedule")
	}
}

func TestRouteKey(t *testing.T) {
	tests := []struct{ method, path, want string }{
		{"post", "/api/v10/channels/1576566680346165248/messages", "POST /api/:id/channels/:id/messages"},
		{"PATCH", "/api/v10/webhooks/1200000000000000001/tok-1300000187494722879/messages/@original", "PATCH /api/:id/webhooks/:id/:id/messages/@original"},
		{"GET", "/api/v4/projects/acme%2Fsupport/issues/12/notes", "GET /api/:id/projects/:id/issues/:id/notes"},
		{"GET", "/", "GET /"},
	}
	for _, tt := range tests {
		if got := chaos.RouteKey(tt.method, tt.path); got != tt.want {
			t.Errorf("RouteKey(%s, %s): got %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

// FuzzRouteKey: a route key holds no digit, keeps the path's shape, and
// does not depend on the digits of the path (IDs differ between runs).
func FuzzRouteKey(f *testing.F) {
	f.Add("POST", "/api/v10/channels/1576566680346165248/messages", byte(3))
	f.Add("get", "/api/v4/projects/acme%2Fsupport/issues/12/notes/5001", byte(9))
	f.Add("", "", byte(0))
	f.Fuzz(func(t *testing.T, method, path string, shift byte) {
		key := chaos.RouteKey(method, path)
		keyPath, ok := strings.CutPrefix(key, strings.ToUpper(method)+" ")
		if !ok {
			t.Fatalf("RouteKey(%q, %q) = %q: does not start with the method", method, path, key)
		}
		if strings.Count(keyPath, "/") != strings.Count(path, "/") {
			t.Errorf("RouteKey(%q, %q) = %q: segments changed", method, path, key)
		}
		if strings.ContainsAny(keyPath, "0123456789") {
			t.Errorf("RouteKey(%q, %q) = %q holds a digit", method, path, key)
		}
		other := []byte(path)
		for i, c := range other {
			if c >= '0' && c <= '9' {
				other[i] = '0' + (c-'0'+shift)%10
			}
		}
		if k2 := chaos.RouteKey(method, string(other)); k2 != key {
			t.Errorf("RouteKey(%q) = %q but RouteKey(%q) = %q", path, key, other, k2)
		}
	})
}

func TestTwice(t *testing.T) {
	var async, sync atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Invocation-Type") == "Event" {
			async.Add(1)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		sync.Add(1)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(up.Close)
	tw := chaos.NewTwice(t, up.URL, 3, 50*time.Millisecond)
	post := func(event bool) int {
		req, _ := http.NewRequest(http.MethodPost, tw.URL()+"/2015-03-31/functions/f/invocations", strings.NewReader(`{}`))
		if event {
			req.Header.Set("X-Amz-Invocation-Type", "Event")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		if st := post(true); st != http.StatusAccepted {
			t.Fatalf("async invoke: got %d, want 202", st)
		}
	}
	if st := post(false); st != http.StatusOK {
		t.Fatalf("sync invoke: got %d, want 200", st)
	}
	tw.Wait()
	if async.Load() != 6 || sync.Load() != 1 {
		t.Errorf("upstream saw %d async and %d sync invocations, want 6 and 1", async.Load(), sync.Load())
	}
	if made, refused := tw.Repeats(); made != 3 || refused != 0 {
		t.Errorf("repeats: got %d (%d refused), want 3 (0)", made, refused)
	}
}
