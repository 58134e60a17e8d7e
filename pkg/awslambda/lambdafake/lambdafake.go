// Package lambdafake is a fake AWS Lambda Invoke API for tests: a real HTTP
// server that accepts `POST /2015-03-31/functions/{name}/invocations` as
// aws-sdk-go-v2 and awslambda.Client send it and runs the payload through
// a Lambda handler, like Lambda does. Asynchronous invocations
// (X-Amz-Invocation-Type: Event) answer 202 at once and run in the
// background; a handler error is retried twice (Lambda's default), then the
// event goes to the dead letters.
package lambdafake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
)

// Server is the fake.
type Server struct {
	srv *httptest.Server

	mu          sync.Mutex
	handler     lambda.Handler
	functions   []string
	attempts    int
	deadLetters []json.RawMessage
	wg          sync.WaitGroup
	ctx         context.Context
	cancel      context.CancelFunc
}

// Retries is how often a failed asynchronous invocation is retried.
const Retries = 2

// New starts the fake; it stops on t.Cleanup, after the background
// invocations have ended.
func New(t testing.TB) *Server {
	s := &Server{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.cancel()
		s.srv.Close() // no new invocation after this
		s.Wait()
	})
	return s
}

// URL is the endpoint (AWS_ENDPOINT_URL_LAMBDA).
func (s *Server) URL() string { return s.srv.URL }

// SetHandler sets the function's handler, e.g. a Lambda main's handler
// wrapped with lambda.NewHandler.
func (s *Server) SetHandler(h lambda.Handler) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

// Wait blocks until no asynchronous invocation is running. The caller
// learnt of an invocation through an HTTP answer (202), which the race
// detector does not see as synchronization; taking mu orders Wait after
// the wg.Add of every invocation already answered.
func (s *Server) Wait() {
	s.mu.Lock()
	//lint:ignore SA2001 the empty critical section is the synchronization
	s.mu.Unlock()
	s.wg.Wait()
}

// Functions lists the function names invoked, in order.
func (s *Server) Functions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.functions...)
}

// Attempts counts handler runs, retries included.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// DeadLetters are the events whose every attempt failed.
func (s *Server) DeadLetters() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.deadLetters...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
	name, ok2 := strings.CutSuffix(rest, "/invocations")
	if r.Method != http.MethodPost || !ok || !ok2 || name == "" {
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		http.Error(w, `{"Type":"User","message":"not found"}`, http.StatusNotFound)
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil || !json.Valid(payload) {
		w.Header().Set("X-Amzn-Errortype", "InvalidRequestContentException")
		http.Error(w, `{"Type":"User","message":"Could not parse request body into json"}`, http.StatusBadRequest)
		return
	}
	async := r.Header.Get("X-Amz-Invocation-Type") == "Event"
	s.mu.Lock()
	h := s.handler
	s.functions = append(s.functions, name)
	if async && h != nil {
		s.wg.Add(1) // under mu: see Wait
	}
	s.mu.Unlock()
	if h == nil {
		w.Header().Set("X-Amzn-Errortype", "ServiceException")
		http.Error(w, `{"message":"no handler"}`, http.StatusInternalServerError)
		return
	}
	if async {
		go s.async(h, payload)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out, err := s.run(h, payload)
	if err != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		out, _ = json.Marshal(map[string]string{"errorMessage": err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (s *Server) run(h lambda.Handler, payload []byte) ([]byte, error) {
	s.mu.Lock()
	s.attempts++
	s.mu.Unlock()
	return h.Invoke(s.ctx, payload)
}

func (s *Server) async(h lambda.Handler, payload []byte) {
	defer s.wg.Done()
	for range 1 + Retries {
		if s.ctx.Err() != nil {
			return
		}
		if _, err := s.run(h, payload); err == nil {
			return
		}
	}
	s.mu.Lock()
	s.deadLetters = append(s.deadLetters, append(json.RawMessage(nil), payload...))
	s.mu.Unlock()
}
