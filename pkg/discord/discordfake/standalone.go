package discordfake

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"time"
)

// Identity is who a fake started by Serve is: the bot token it accepts,
// its bot user and its server. A zero field gets a fresh value, as New
// gives.
type Identity struct {
	// Token is the bot token the fake accepts (without "Bot "): 1 to 200
	// printable ASCII characters, no space.
	Token string
	// BotUserID and GuildID are snowflakes (1 to 20 digits); GuildID is
	// the @everyone role's ID too.
	BotUserID string
	GuildID   string
}

var (
	snowflakeRe = regexp.MustCompile(`^[0-9]{1,20}$`)
	tokenRe     = regexp.MustCompile(`^[!-~]{1,200}$`)
)

// Serve starts a fake that answers on l, for use outside tests: the dev
// fakes of `go run ./internal/devfakes` (make fakes) listen on fixed
// ports. URL is then http://<l's address>/api/v10, and every method works
// as on a fake from New, but that a channel never made (SetChannel) is
// unknown to every route, as in Discord: posting a message or starting a
// thread there answers 404 code 10003 Unknown Channel. It serves until
// Close, which closes l. It returns an error, and leaves l open, when id
// has a malformed field.
func Serve(l net.Listener, id Identity) (*Server, error) {
	if id.Token != "" && !tokenRe.MatchString(id.Token) {
		return nil, errors.New("discordfake: the bot token must be 1 to 200 printable ASCII characters without spaces")
	}
	for _, f := range []struct{ name, v string }{{"bot user ID", id.BotUserID}, {"guild ID", id.GuildID}} {
		if f.v != "" && !snowflakeRe.MatchString(f.v) {
			return nil, fmt.Errorf("discordfake: the %s %q is not a snowflake (1 to 20 digits)", f.name, f.v)
		}
	}
	s := newServer()
	s.strict = true
	if id.Token != "" {
		s.token = id.Token
	}
	s.botID, s.guildID = id.BotUserID, id.GuildID
	if s.botID == "" {
		s.botID = s.newID()
	}
	if s.guildID == "" {
		s.guildID = s.newID()
	}
	s.srv = &httptest.Server{
		Listener: l,
		Config:   &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second},
	}
	s.srv.Start()
	return s, nil
}

// Close stops the fake: the answers LoseNext holds back are dropped, the
// listener is closed, and Close waits for the requests in flight. A fake
// from New is closed when its test ends; closing it earlier is allowed.
// Closing a closed fake does nothing.
func (s *Server) Close() {
	// Held answers end first: the server's Close waits for their
	// handlers.
	s.mu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Unlock()
	s.srv.Close()
}

// RequestsSince returns the requests received after the first n, in
// order: Requests()[n:] without copying the earlier ones, for a caller
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
		out = append(out, r.clone())
	}
	return out
}
