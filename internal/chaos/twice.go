package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Twice is a proxy in front of the AWS Lambda Invoke API (lambdafake) that
// delivers every asynchronous invocation (X-Amz-Invocation-Type: Event)
// twice, as Lambda may ("delivery can also repeat", FACTS.md): the caller
// gets the answer of the first delivery; the second follows after a delay
// drawn from the seed, from at once (both running together) to MaxDelay.
// Other requests are forwarded once.
type Twice struct {
	srv      *httptest.Server
	upstream string
	seed     int64
	maxDelay time.Duration
	client   *http.Client
	wg       sync.WaitGroup

	mu      sync.Mutex
	n       int
	repeats int
	failed  int
}

// NewTwice starts a Twice in front of upstream (scheme and host). It waits
// for its second deliveries and closes when the test ends.
func NewTwice(t testing.TB, upstream string, seed int64, maxDelay time.Duration) *Twice {
	t.Helper()
	tw := &Twice{upstream: strings.TrimRight(upstream, "/"), seed: seed, maxDelay: maxDelay, client: &http.Client{Timeout: time.Minute}}
	tw.srv = httptest.NewServer(http.HandlerFunc(tw.serve))
	t.Cleanup(func() {
		tw.srv.Close()
		tw.wg.Wait()
	})
	return tw
}

// URL is the endpoint to give the Lambda client (AWS_ENDPOINT_URL_LAMBDA).
func (tw *Twice) URL() string { return tw.srv.URL }

// Repeats returns how many second deliveries were made, and how many of
// them the upstream did not accept (not 202).
func (tw *Twice) Repeats() (made, refused int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.repeats, tw.failed
}

// Wait blocks until every second delivery started so far has been
// answered.
func (tw *Twice) Wait() {
	tw.mu.Lock()
	//lint:ignore SA2001 the critical section orders Wait after the wg.Add of every answered request
	tw.mu.Unlock()
	tw.wg.Wait()
}

func (tw *Twice) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	status, header, answer, err := tw.send(r.Context(), r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if r.Header.Get("X-Amz-Invocation-Type") == "Event" {
		tw.mu.Lock()
		tw.n++
		h := sha256.Sum256(fmt.Appendf(nil, "sdesk-chaos-twice|%d|%d", tw.seed, tw.n))
		delay := time.Duration(float64(binary.BigEndian.Uint64(h[:])>>11) / (1 << 53) * float64(tw.maxDelay))
		tw.wg.Add(1) // under mu: see Wait
		tw.mu.Unlock()
		go tw.repeat(r.Clone(context.WithoutCancel(r.Context())), body, delay)
	}
	for k, vs := range header {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(answer)
}

func (tw *Twice) repeat(r *http.Request, body []byte, delay time.Duration) {
	defer tw.wg.Done()
	time.Sleep(delay)
	status, _, _, err := tw.send(context.Background(), r, body)
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.repeats++
	if err != nil || status != http.StatusAccepted {
		tw.failed++
	}
}

func (tw *Twice) send(ctx context.Context, r *http.Request, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, tw.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("twice: build request: %w", err)
	}
	for k, vs := range r.Header {
		if !hopByHop[k] {
			req.Header[k] = vs
		}
	}
	resp, err := tw.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("twice: upstream: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("twice: upstream body: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}
