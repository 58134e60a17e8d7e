package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RuntimeAPI is a fake of the AWS Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) for one
// function process and one event, enough for aws-lambda-go built with
// -tags lambda.norpc: the first GET /2018-06-01/runtime/invocation/next
// gets the event (200, headers Lambda-Runtime-Aws-Request-Id and
// Lambda-Runtime-Deadline-Ms), later ones wait until the caller goes away;
// POST /2018-06-01/runtime/invocation/{id}/response or /error records the
// answer (202). The process reaches it through AWS_LAMBDA_RUNTIME_API=Addr().
// One fake per process keeps a killed process's pending request from ever
// taking the next process's event.
type RuntimeAPI struct {
	srv   *httptest.Server
	event []byte
	done  chan struct{} // closed when the answer is in

	mu       sync.Mutex
	taken    bool
	next     time.Time // when the process asked for the event
	answered time.Time // when its answer arrived
	failed   bool      // the answer was posted to /error
	body     []byte
}

// requestID is the request ID of the one event.
const requestID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"

// NewRuntimeAPI starts the fake on a loopback port, serving event; Close
// stops it.
func NewRuntimeAPI(event []byte) *RuntimeAPI {
	api := &RuntimeAPI{event: event, done: make(chan struct{})}
	api.srv = httptest.NewServer(http.HandlerFunc(api.serve))
	return api
}

// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
func (api *RuntimeAPI) Addr() string { return strings.TrimPrefix(api.srv.URL, "http://") }

// Done is closed once the answer is in.
func (api *RuntimeAPI) Done() <-chan struct{} { return api.done }

// Answer is when the event was taken and answered, whether the answer was
// an error, and its body; zero times when it was not.
func (api *RuntimeAPI) Answer() (next, answered time.Time, failed bool, body []byte) {
	api.mu.Lock()
	defer api.mu.Unlock()
	return api.next, api.answered, api.failed, api.body
}

// Close stops the server; pending requests end.
func (api *RuntimeAPI) Close() {
	api.srv.CloseClientConnections()
	api.srv.Close()
}

const runtimePrefix = "/2018-06-01/runtime/invocation/"

func (api *RuntimeAPI) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	rest, ok := strings.CutPrefix(r.URL.Path, runtimePrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rest == "next" && r.Method == http.MethodGet {
		api.mu.Lock()
		first := !api.taken
		if first {
			api.taken, api.next = true, now
		}
		api.mu.Unlock()
		if !first {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", requestID)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(now.Add(time.Minute).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(api.event)
		return
	}
	id, kind, ok := strings.Cut(rest, "/")
	if !ok || id != requestID || r.Method != http.MethodPost || (kind != "response" && kind != "error") {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20)) // Lambda's 6 MB response cap
	api.mu.Lock()
	again := !api.answered.IsZero()
	if !again {
		api.answered, api.failed, api.body = now, kind == "error", body
	}
	api.mu.Unlock()
	if again {
		http.Error(w, "already answered", http.StatusBadRequest)
		return
	}
	close(api.done)
	w.WriteHeader(http.StatusAccepted)
}

// Function is a Lambda bootstrap to start cold, and the event it gets.
type Function struct {
	Name   string
	Binary string
	// Env is added to a minimal environment (PATH, HOME and
	// AWS_LAMBDA_RUNTIME_API), not to this process's.
	Env   []string
	Event []byte
	// Want, when set, must be in the answer.
	Want string
}

// Start is one cold start: exec to the process's first request for an
// event (Ready) and to its answer (Answer).
type Start struct {
	Ready, Answer time.Duration
}

// maxStderr bounds what is kept of a process's standard error.
const maxStderr = 1 << 20

// ColdStart execs f.Binary with AWS_LAMBDA_RUNTIME_API set to a fresh
// RuntimeAPI holding f.Event, waits at most timeout for its answer, then
// kills the process. It fails when the process ends first, answers with an
// error or lacks f.Want. stderr holds the process's standard error (at
// most 1 MiB); extraEnv is added to f.Env (e.g. GODEBUG).
func ColdStart(ctx context.Context, f Function, extraEnv []string, timeout time.Duration) (s Start, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	api := NewRuntimeAPI(f.Event)
	defer api.Close()
	cmd := exec.Command(f.Binary)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AWS_LAMBDA_RUNTIME_API=" + api.Addr()}, f.Env...)
	cmd.Env = append(cmd.Env, extraEnv...)
	errBuf := &capped{max: maxStderr}
	cmd.Stderr = errBuf
	exited := make(chan error, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Start{}, nil, fmt.Errorf("start %s: %w", f.Name, err)
	}
	go func() { exited <- cmd.Wait() }()
	stop := func() []byte {
		_ = cmd.Process.Kill()
		<-exited
		return errBuf.Bytes()
	}
	select {
	case <-api.Done():
	case err := <-exited:
		return Start{}, errBuf.Bytes(), fmt.Errorf("%s ended before answering (%v): %s", f.Name, err, lastLines(errBuf.Bytes(), 5))
	case <-ctx.Done():
		out := stop()
		return Start{}, out, fmt.Errorf("%s did not answer within %s: %s", f.Name, timeout, lastLines(out, 5))
	}
	out := stop()
	next, answered, failed, body := api.Answer()
	s = Start{Ready: next.Sub(start), Answer: answered.Sub(start)}
	switch {
	case failed:
		return s, out, fmt.Errorf("%s answered with an error: %s", f.Name, body)
	case f.Want != "" && !bytes.Contains(body, []byte(f.Want)):
		return s, out, fmt.Errorf("%s answered %s, want it to contain %s", f.Name, body, f.Want)
	}
	return s, out, nil
}

// ColdStarts runs rounds of cold starts of fns, interleaved: round r starts
// every function once, beginning with fns[r%len(fns)], so that no function
// always runs first or last while the machine's load drifts. One round
// more, not counted, runs first (page cache, the fake's connections).
// It returns the starts of each function, in round order.
func ColdStarts(ctx context.Context, fns []Function, rounds int, timeout time.Duration) ([][]Start, error) {
	out := make([][]Start, len(fns))
	for r := -1; r < rounds; r++ {
		for k := range fns {
			i := (max(r, 0) + k) % len(fns)
			s, _, err := ColdStart(ctx, fns[i], nil, timeout)
			if err != nil {
				return nil, err
			}
			if r >= 0 {
				out[i] = append(out[i], s)
			}
		}
	}
	return out, nil
}

// capped is an io.Writer that keeps the first max bytes.
type capped struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.b.Bytes())
}

// lastLines is the last n lines of b, for an error message.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
