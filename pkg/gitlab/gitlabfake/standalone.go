package gitlabfake

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"
)

// Serve starts a fake GitLab that answers on l, for use outside tests: the
// dev fakes of `go run ./internal/devfakes` (make fakes) listen on fixed
// ports. URL is then http://<l's address>, and every method works as on a
// fake from New. It serves until Close, which closes l.
func Serve(l net.Listener, opts ...Option) *Server {
	s := newServer(opts...)
	s.srv = &httptest.Server{
		Listener: l,
		Config:   &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second},
	}
	s.srv.Start()
	return s
}

// Close stops the fake: the listener is closed and Close waits for the
// requests in flight. A fake from New is closed when its test ends;
// closing it earlier is allowed. Closing a closed fake does nothing.
func (s *Server) Close() { s.srv.Close() }

// RequestsSince returns the logged requests after the first n, oldest
// first: Requests()[n:] without copying the earlier ones, for a caller
// that follows the log as it grows. n past the end gives none.
func (s *Server) RequestsSince(n int) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 0 {
		n = 0
	}
	if n >= len(s.requests) {
		return nil
	}
	out := make([]Request, 0, len(s.requests)-n)
	for _, r := range s.requests[n:] {
		r.Query = cloneValues(r.Query)
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		out = append(out, r)
	}
	return out
}
