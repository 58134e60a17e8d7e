// Package chaos is sdesk's chaos harness (issue 8, item 9): fault-injecting
// reverse proxies in front of the Discord and GitLab fakes, a seeded plan of
// mixed operations that drives sdesk through Discord interactions and GitLab
// webhooks, and the checks that count, from the fakes' state, what each
// operation should have caused exactly once.
//
// Everything random comes from one seed: the plan is a pure function of
// (seed, number of operations), and a proxy's fault for a request is a pure
// function of (seed, proxy name, route, how many requests that route has
// had). Timing is not replayed: which of two concurrent requests on one route
// comes first may differ between runs, so a seed reproduces the plan and the
// fault schedule per route, not every interleaving.
package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind is a fault a Proxy injects into one request.
type Kind int

// Faults. "Before" faults answer without forwarding: the upstream never
// sees the request, so nothing happened. "After" faults forward first: the
// effect happened upstream (an issue created, a message posted), and only
// the answer is replaced or lost.
const (
	// None forwards the request and returns the upstream answer.
	None Kind = iota
	// RateLimit answers 429 before forwarding: for Discord with the JSON
	// body {"message","retry_after","global":false} and the Retry-After and
	// X-RateLimit-* headers Discord sends; for GitLab as its rate limiter
	// does, with or without Retry-After (FACTS.md: "429 may come without
	// headers").
	RateLimit
	// ServerError answers 500, 502 or 503 before forwarding.
	ServerError
	// ServerErrorAfter forwards, then answers 500, 502 or 504 instead of the
	// upstream answer.
	ServerErrorAfter
	// Drop closes the connection without forwarding or answering.
	Drop
	// DropAfter forwards, then closes the connection without answering.
	DropAfter
	// Timeout does not forward and holds the request until the client
	// gives up (its timeout or deadline), at most Options.MaxHold, then
	// closes the connection.
	Timeout
	// TimeoutAfter forwards, then holds the answer as Timeout does and
	// closes the connection without it.
	TimeoutAfter
	numKinds
)

// AllKinds lists every fault kind, in the order of the constants.
var AllKinds = []Kind{RateLimit, ServerError, ServerErrorAfter, Drop, DropAfter, Timeout, TimeoutAfter}

var kindNames = [...]string{"none", "429", "5xx", "5xx-after", "drop", "drop-after", "timeout", "timeout-after"}

func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Forwards reports whether the upstream sees a request that gets this
// fault, i.e. whether its effect happens.
func (k Kind) Forwards() bool {
	return k == None || k == ServerErrorAfter || k == DropAfter || k == TimeoutAfter
}

// Flavor says whose errors a Proxy imitates.
type Flavor int

// Flavors.
const (
	Discord Flavor = iota
	GitLab
)

// Options configure a Proxy.
type Options struct {
	// Name tells proxies apart in logs and in the fault schedule: two
	// proxies with one seed and different names fault differently.
	Name   string
	Flavor Flavor
	// Seed and Rate decide the faults: a request gets one with probability
	// Rate (0 to 1).
	Seed int64
	Rate float64
	// Kinds are the faults to choose from, uniformly; nil means AllKinds.
	Kinds []Kind
	// MaxHold bounds how long a Timeout or TimeoutAfter holds a request
	// whose client does not give up; default 30 s (sdesk's HTTP clients
	// give up after 20 s).
	MaxHold time.Duration
	// MaxRetryAfter bounds a Discord 429's retry_after; default 1 s. The
	// value is drawn between 50 ms and MaxRetryAfter.
	MaxRetryAfter time.Duration
}

// Fault is one injected fault, for the report of a run.
type Fault struct {
	Seq    int    // arrival order of the request at this proxy, from 1
	Route  string // RouteKey of the request
	N      int    // the request's number on its route, from 1
	Method string
	Path   string
	Kind   Kind
	Status int // the status answered (0: none, the connection was closed)
	Time   time.Time
}

func (f Fault) String() string {
	st := "no answer"
	if f.Status != 0 {
		st = strconv.Itoa(f.Status)
	}
	return fmt.Sprintf("#%d %s %s (%s #%d): %s, %s", f.Seq, f.Method, f.Path, f.Route, f.N, f.Kind, st)
}

// Proxy is a reverse proxy in front of one upstream (a fake) that injects
// faults. Its methods are safe for concurrent use.
type Proxy struct {
	srv      *httptest.Server
	upstream string
	opts     Options
	client   *http.Client
	closed   chan struct{}

	mu       sync.Mutex
	rate     float64
	seq      int
	perRoute map[string]int
	faults   []Fault
	counts   [numKinds]int
	last     time.Time
	inFlight map[int]string // seq -> "METHOD path" of the requests being served
}

// NewProxy starts a proxy that forwards to upstream (scheme and host, e.g.
// an httptest server's URL; the request's path and query are kept). It is
// closed when the test ends.
func NewProxy(t testing.TB, upstream string, o Options) *Proxy {
	t.Helper()
	if o.MaxHold <= 0 {
		o.MaxHold = 30 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Second
	}
	if o.Kinds == nil {
		o.Kinds = AllKinds
	}
	p := &Proxy{
		upstream: strings.TrimRight(upstream, "/"),
		opts:     o,
		rate:     o.Rate,
		perRoute: map[string]int{},
		inFlight: map[int]string{},
		closed:   make(chan struct{}),
		client:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	// Cleanups run last in, first out: held requests end before Close
	// waits for their handlers.
	t.Cleanup(func() { close(p.closed) })
	return p
}

// URL is the proxy's base URL (scheme and host).
func (p *Proxy) URL() string { return p.srv.URL }

// SetRate changes the share of requests that get a fault; 0 turns faults
// off (the outage is over).
func (p *Proxy) SetRate(r float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = r
}

// Stats is what a proxy saw.
type Stats struct {
	Requests int
	Faults   [numKinds]int // by Kind; Faults[None] counts clean requests
}

// Faulted is the number of requests that got a fault.
func (s Stats) Faulted() int { return s.Requests - s.Faults[None] }

func (s Stats) String() string {
	var parts []string
	for _, k := range AllKinds {
		if n := s.Faults[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	detail := "none"
	if len(parts) > 0 {
		detail = strings.Join(parts, ", ")
	}
	return fmt.Sprintf("%d requests, %d faults (%s)", s.Requests, s.Faulted(), detail)
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Requests: p.seq, Faults: p.counts}
}

// Faults returns the faults injected so far, in arrival order.
func (p *Proxy) Faults() []Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Fault(nil), p.faults...)
}

// Idle reports whether no request is in flight and none arrived for d.
func (p *Proxy) Idle(d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inFlight) == 0 && time.Since(p.last) >= d
}

// InFlight lists the requests being served now ("METHOD path"), in
// arrival order.
func (p *Proxy) InFlight() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	seqs := make([]int, 0, len(p.inFlight))
	for s := range p.inFlight {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	out := make([]string, len(seqs))
	for i, s := range seqs {
		out[i] = p.inFlight[s]
	}
	return out
}

// RouteKey is the route of a request as the fault schedule counts it: the
// method and the path with every segment that holds a digit replaced by
// ":id" (snowflakes, issue numbers, interaction tokens), so that the n-th
// request on a route gets the same fault whatever IDs a run made.
func RouteKey(method, path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.ContainsAny(s, "0123456789") {
			segs[i] = ":id"
		}
	}
	return strings.ToUpper(method) + " " + strings.Join(segs, "/")
}

// Decision is the fault a proxy applies to one request.
type Decision struct {
	Kind       Kind
	Status     int           // for RateLimit, ServerError, ServerErrorAfter
	RetryAfter time.Duration // for RateLimit: Discord's retry_after; GitLab's Retry-After when WithHeader
	WithHeader bool          // GitLab RateLimit: send Retry-After
}

// Decide returns the fault for the n-th request (from 1) on route, a pure
// function of its arguments and o's Name, Seed, Kinds and MaxRetryAfter.
func Decide(o Options, rate float64, route string, n int) Decision {
	h := sha256.Sum256([]byte(fmt.Sprintf("sdesk-chaos-v1|%d|%s|%s|%d", o.Seed, o.Name, route, n)))
	u := func(i int) float64 { return float64(binary.BigEndian.Uint64(h[8*i:])>>11) / (1 << 53) }
	kinds := o.Kinds
	if kinds == nil {
		kinds = AllKinds
	}
	if len(kinds) == 0 || u(0) >= rate {
		return Decision{Kind: None}
	}
	d := Decision{Kind: kinds[int(u(1)*float64(len(kinds)))%len(kinds)]}
	pick := int(u(2) * 3)
	switch d.Kind {
	case RateLimit:
		d.Status = http.StatusTooManyRequests
		maxRA := o.MaxRetryAfter
		if maxRA <= 0 {
			maxRA = time.Second
		}
		lo := 50 * time.Millisecond
		d.RetryAfter = lo + time.Duration(u(3)*float64(max(maxRA-lo, 0)))
		// Milliseconds, as Discord's retry_after has at most three decimals.
		d.RetryAfter = d.RetryAfter.Round(time.Millisecond)
		d.WithHeader = pick != 0
		if o.Flavor == GitLab {
			d.RetryAfter = time.Second // Retry-After is whole seconds
		}
	case ServerError:
		d.Status = []int{500, 502, 503}[pick]
	case ServerErrorAfter:
		d.Status = []int{500, 502, 504}[pick]
	}
	return d
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		dropConnection(w)
		return
	}
	route := RouteKey(r.Method, r.URL.Path)
	p.mu.Lock()
	p.seq++
	p.perRoute[route]++
	seq, n, rate := p.seq, p.perRoute[route], p.rate
	p.inFlight[p.seq] = r.Method + " " + r.URL.Path
	p.last = time.Now()
	d := Decide(p.opts, rate, route, n)
	p.counts[d.Kind]++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.inFlight, seq)
		p.last = time.Now()
		p.mu.Unlock()
	}()
	f := Fault{Seq: seq, Route: route, N: n, Method: r.Method, Path: r.URL.Path, Kind: d.Kind, Time: time.Now()}
	record := func(status int) {
		if d.Kind == None {
			return
		}
		f.Status = status
		p.mu.Lock()
		p.faults = append(p.faults, f)
		p.mu.Unlock()
	}

	var resp *upstreamAnswer
	if d.Kind.Forwards() {
		resp, err = p.forward(r, body)
		if err != nil {
			// The upstream itself failed (closed at the end of a test):
			// the client sees a broken connection.
			record(0)
			dropConnection(w)
			return
		}
	}
	switch d.Kind {
	case None:
		resp.write(w)
	case RateLimit:
		record(d.Status)
		p.writeRateLimit(w, d)
	case ServerError, ServerErrorAfter:
		record(d.Status)
		p.writeServerError(w, d.Status)
	case Drop, DropAfter:
		record(0)
		dropConnection(w)
	case Timeout, TimeoutAfter:
		record(0)
		t := time.NewTimer(p.opts.MaxHold)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
		case <-p.closed:
		}
		dropConnection(w)
	}
}

// upstreamAnswer is a buffered answer of the upstream.
type upstreamAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a *upstreamAnswer) write(w http.ResponseWriter) {
	for k, vs := range a.header {
		if hopByHop[http.CanonicalHeaderKey(k)] || k == "Content-Length" {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// forward sends the request upstream and reads the whole answer. The
// upstream request outlives the client: once a server has a request, it
// acts on it whether or not the caller is still there.
func (p *Proxy) forward(r *http.Request, body []byte) (*upstreamAnswer, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("chaos proxy %s: build upstream request: %w", p.opts.Name, err)
	}
	for k, vs := range r.Header {
		if !hopByHop[http.CanonicalHeaderKey(k)] {
			req.Header[k] = vs
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chaos proxy %s: upstream: %w", p.opts.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("chaos proxy %s: upstream body: %w", p.opts.Name, err)
	}
	return &upstreamAnswer{status: resp.StatusCode, header: resp.Header.Clone(), body: b}, nil
}

// writeRateLimit answers 429 as Discord or GitLab does.
func (p *Proxy) writeRateLimit(w http.ResponseWriter, d Decision) {
	h := w.Header()
	if p.opts.Flavor == GitLab {
		// GitLab's Rack::Attack throttle: plain text; Retry-After is
		// sent by some limits and not by others.
		if d.WithHeader {
			h.Set("Retry-After", strconv.Itoa(int(math.Ceil(d.RetryAfter.Seconds()))))
		}
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "Retry later\n")
		return
	}
	secs := d.RetryAfter.Seconds()
	reset := float64(time.Now().UnixMilli())/1000 + secs
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
	h.Set("X-RateLimit-Limit", "5")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(reset, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(secs, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", "c0a1a2a3a4a5a6a7a8a9b0b1b2b3b4b5")
	h.Set("X-RateLimit-Scope", "user")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"message":"You are being rate limited.","retry_after":%s,"global":false}`, strconv.FormatFloat(secs, 'f', 3, 64))
}

// writeServerError answers a 5xx as the service's edge does: JSON from the
// application for 500, an HTML page from the load balancer otherwise.
func (p *Proxy) writeServerError(w http.ResponseWriter, status int) {
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	if status == http.StatusInternalServerError {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if p.opts.Flavor == Discord {
			fmt.Fprintf(w, `{"message":"500: Internal Server Error","code":0}`)
		} else {
			fmt.Fprintf(w, `{"message":"500 Internal Server Error"}`)
		}
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><head><title>%s</title></head><body><center><h1>%s</h1></center></body></html>\n", text, text)
}

// dropConnection closes a request's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, as a crashed peer or a middlebox gives
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // the server closes the connection unanswered
}
