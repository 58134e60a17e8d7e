// Package discordfake is a fake of the part of Discord's REST API that sdesk
// uses: a real HTTP server (httptest) that answers the real paths under
// /api/v10 with the shapes Discord answers, keeps the state of threads,
// messages and interaction responses, records every request, and can be
// told to fail.
//
// Behaviour modelled on Discord:
//   - Bot routes need "Authorization: Bot <Token()>" (else 401
//     {"message":"401: Unauthorized","code":0}); webhook and interaction
//     callback routes need no authorization.
//   - Unknown routes answer 404 {"message":"404: Not Found","code":0}, a
//     known path with another method 405.
//   - A channel exists once SetChannel makes it (or AddThread its parent);
//     threads exist once created through the API (the bot creates them)
//     or by AddThread (a guild member creates them in Discord's own
//     client). GET /channels/{id} of any other ID answers 404 code 10003
//     Unknown Channel. Posting a message or starting a thread in one
//     makes it a text channel (type 0) on a fake from New, for tests that
//     need no more of a channel; a fake from Serve (make fakes) answers
//     404 code 10003 there too. A thread's creator is its owner_id and its
//     first member: the bot user (BotUserID) for every thread created
//     through the API, since the API only takes the bot's token.
//   - GET /users/@me answers the bot user.
//   - GET /guilds/{guild}/threads/active lists every thread that is not
//     archived, public and private, ordered by ID in descending order, as
//     Discord documents for List Active Guild Threads.
//   - Messages are checked against Discord's limits (400, code 50035
//     "Invalid Form Body", or 50006 "Cannot send an empty message").
//   - Posting into an archived thread that is not locked unarchives it; an
//     archived locked thread refuses new messages, and an archived thread
//     refuses message edits and new members (400, code 50083 "Thread is
//     archived").
//   - Faults: FailNext answers without acting; FailNextAfterEffect and
//     LoseNext act first and then fail the answer or lose it, as when
//     Discord fails after acting or the caller dies while its request is
//     in flight.
//   - Interaction webhooks (PATCH .../messages/@original, POST
//     /webhooks/{app}/{token}) accept any token: an original response is
//     created by the first edit or by a callback of type 4 or 5, since an
//     interaction answered in the HTTP response never reaches the fake. A
//     second callback for the same interaction ID answers 400 code 40060.
//   - A CDN (AddAttachment): files users attach in a modal are served at
//     /attachments/<channel>/<id>/<filename> on the fake's host with
//     signed ex, is and hm parameters and without authorization;
//     ExpireAttachments makes every link answer 404 as an expired one.
package discordfake

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// APIPrefix is the path of the API base on the fake's host.
const APIPrefix = "/api/v10"

// maxBody caps the request bodies the fake reads (Discord's own limit for
// uploads without boosts is lower).
const maxBody = 64 << 20

// Request is one request the fake received.
type Request struct {
	Method string
	// Path is below the API base, e.g. /channels/1/messages; for the CDN
	// (AddAttachment) it is the whole path, /attachments/...
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte // the raw body
	// JSON is the JSON document of the request: the body, or the
	// payload_json part of a multipart body; nil when there is none.
	JSON []byte
	// Decoded is JSON decoded (map[string]any, []any...), nil when there
	// is none or it is not valid JSON.
	Decoded any
	Files   []File    // the files[n] parts of a multipart body, in order
	Status  int       // the status the fake answered (0 while in flight, or when the answer was lost: LoseNext)
	Time    time.Time // when the request arrived
}

// Object returns Decoded as a JSON object, or nil.
func (r Request) Object() map[string]any {
	m, _ := r.Decoded.(map[string]any)
	return m
}

// File is an uploaded file: a files[n] part of a request, or an attachment
// of a message (then ID is the attachment's ID).
type File struct {
	ID          string
	Field       string // form field, e.g. files[0]
	Name        string
	ContentType string
	Data        []byte
}

// Message is a message as the fake holds it.
type Message struct {
	ID         string
	ChannelID  string // empty for interaction responses and follow-ups
	WebhookID  string // application ID for interaction responses and follow-ups
	Content    string
	Embeds     []map[string]any
	Components []map[string]any
	// AllowedMentions is allowed_mentions exactly as last sent, nil when
	// no request carried one.
	AllowedMentions json.RawMessage
	Flags           int
	Files           []File // the attachments, in order
	Edits           int    // number of edits after creation
	// LastJSON is the JSON document of the last request that created or
	// edited the message.
	LastJSON json.RawMessage
}

// ThreadState is a thread as the fake holds it.
type ThreadState struct {
	ID       string
	ParentID string
	// OwnerID is the thread's creator (Discord's owner_id): the bot for
	// threads created through the API, the member given to AddThread.
	OwnerID             string
	Name                string
	Type                int // 11 public, 12 private
	Invitable           bool
	AutoArchiveDuration int
	Archived            bool
	Locked              bool
	Members             []string  // user IDs in the order they joined; the owner first
	Messages            []Message // in the order they were posted
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv     *httptest.Server
	token   string
	botID   string
	guildID string

	mu        sync.Mutex
	lastID    uint64
	requests  []*Request
	channels  map[string]*channel
	messages  map[string]*message
	originals map[string]*message   // by interaction token
	followups map[string][]*message // by interaction token
	callbacks map[string]*Request   // by interaction ID
	commands  map[string][]map[string]any
	faults    []*fault
	delay     time.Duration
	held      map[chan struct{}]bool // answers held back by LoseNext; closing one drops its connection
	cdn       cdnState               // attachments (AddAttachment)
	guild     guildState             // roles, members, overwrites, application (guild.go)
	closed    chan struct{}          // closed when the test ends: held answers are dropped
	// strict: a message or thread in a channel not made (see known) is
	// refused as Discord refuses it (a fake from Serve).
	strict bool
}

type channel struct {
	id, parentID, threadOf string // threadOf: the parent of a thread; empty for a text channel
	owner                  string // a thread's creator
	name                   string
	typ                    int
	invitable              bool
	archiveDuration        int
	archived, locked       bool
	created, archivedAt    time.Time
	members                []string
	messages               []string // message IDs in order
	lastMessageID          string
	// known: made by SetChannel, AddThread or as a thread; a channel a
	// route invented for a test (textChannel) is not, and GET /channels
	// answers 404 for it.
	known bool
}

type message struct {
	id, channelID, webhookID string
	content                  string
	embeds, components       json.RawMessage
	allowedMentions          json.RawMessage
	flags                    int
	files                    []File
	edits                    int
	created, edited          time.Time
	lastJSON                 json.RawMessage
	nonce                    string
}

type fault struct {
	method, pattern string
	status          int
	body            string
	left            int
	after           faultAfter
}

// faultAfter tells whether a fault's request is acted on first, and what
// becomes of its answer then.
type faultAfter int

const (
	faultInstead faultAfter = iota // not acted on; the fault answers
	faultAnswer                    // acted on; the fault answers instead of the real answer
	faultLose                      // acted on; the answer is held back, then the connection is closed
)

// New starts a fake; it is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := newServer()
	s.botID = s.newID()
	s.guildID = s.newID()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// newServer returns a fake's empty state, not serving yet, without its
// bot and server IDs.
func newServer() *Server {
	return &Server{
		token:     "fake-bot-token." + randHex(12),
		channels:  map[string]*channel{},
		messages:  map[string]*message{},
		originals: map[string]*message{},
		followups: map[string][]*message{},
		callbacks: map[string]*Request{},
		commands:  map[string][]map[string]any{},
		held:      map[chan struct{}]bool{},
		closed:    make(chan struct{}),
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// URL returns the API base, e.g. http://127.0.0.1:1234/api/v10.
func (s *Server) URL() string { return s.srv.URL + APIPrefix }

// Token returns the bot token the fake accepts (without "Bot ").
func (s *Server) Token() string { return s.token }

// BotUserID returns the bot's user ID (author of the bot's messages, first
// member of its threads).
func (s *Server) BotUserID() string { return s.botID }

// GuildID returns the guild all channels belong to.
func (s *Server) GuildID() string { return s.guildID }

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

func (r *Request) clone() Request {
	c := *r
	c.Query = cloneValues(r.Query)
	c.Header = r.Header.Clone()
	c.Body = bytes.Clone(r.Body)
	c.JSON = bytes.Clone(r.JSON)
	c.Decoded = decodeAny(r.JSON)
	c.Files = cloneFiles(r.Files)
	return c
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func cloneFiles(fs []File) []File {
	if fs == nil {
		return nil
	}
	out := make([]File, len(fs))
	for i, f := range fs {
		out[i] = f
		out[i].Data = bytes.Clone(f.Data)
	}
	return out
}

func decodeAny(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return v
}

// Reset forgets all requests, state (attachments too), faults and the
// delay, and drops the connections of held answers (LoseNext).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropHeld()
	s.requests = nil
	s.channels = map[string]*channel{}
	s.messages = map[string]*message{}
	s.originals = map[string]*message{}
	s.followups = map[string][]*message{}
	s.callbacks = map[string]*Request{}
	s.commands = map[string][]map[string]any{}
	s.faults = nil
	s.delay = 0
	s.cdn = cdnState{}
	s.guild = guildState{}
}

// Thread returns a thread's state.
func (s *Server) Thread(id string) (ThreadState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[id]
	if !ok || c.threadOf == "" {
		return ThreadState{}, false
	}
	return ThreadState{
		ID:                  c.id,
		ParentID:            c.parentID,
		OwnerID:             c.owner,
		Name:                c.name,
		Type:                c.typ,
		Invitable:           c.invitable,
		AutoArchiveDuration: c.archiveDuration,
		Archived:            c.archived,
		Locked:              c.locked,
		Members:             append([]string(nil), c.members...),
		Messages:            s.channelMessages(c),
	}, true
}

// Threads returns the IDs of the threads created so far (through the API
// or AddThread), in order.
func (s *Server) Threads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.channels {
		if c.threadOf != "" {
			out = append(out, c.id)
		}
	}
	slices.SortFunc(out, compareIDs)
	return out
}

// Messages returns the messages of a channel or thread, in order.
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[channelID]
	if !ok {
		return nil
	}
	return s.channelMessages(c)
}

func (s *Server) channelMessages(c *channel) []Message {
	out := make([]Message, 0, len(c.messages))
	for _, id := range c.messages {
		out = append(out, s.messages[id].public())
	}
	return out
}

// OriginalResponse returns the original response of an interaction, as
// the last callback or PATCH .../messages/@original left it.
func (s *Server) OriginalResponse(token string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.originals[token]
	if !ok {
		return Message{}, false
	}
	return m.public(), true
}

// Followups returns the follow-up messages of an interaction, in order.
func (s *Server) Followups(token string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.followups[token]))
	for _, m := range s.followups[token] {
		out = append(out, m.public())
	}
	return out
}

// Callback returns the interaction callback received for an interaction
// ID.
func (s *Server) Callback(interactionID string) (Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.callbacks[interactionID]
	if !ok {
		return Request{}, false
	}
	return r.clone(), true
}

// Commands returns the commands last written for a guild, or the global
// ones for guildID "", as the fake answered them (with IDs).
func (s *Server) Commands(appID, guildID string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmds := s.commands[appID+"/"+guildID]
	out := make([]map[string]any, len(cmds))
	for i, c := range cmds {
		b, _ := json.Marshal(c)
		_ = json.Unmarshal(b, &out[i])
	}
	return out
}

// FailNext answers the next n requests whose method (empty or "*": any)
// and path below the API base (matched with path.Match, e.g.
// "/channels/*/messages") match with status and body, without acting on
// them. An empty body gives Discord's body for the status; a 429 answer
// also carries the Retry-After and X-RateLimit-* headers Discord sends,
// computed from the body's retry_after and global.
func (s *Server) FailNext(method, pathPattern string, status int, body string, n int) {
	s.addFault(&fault{method: method, pattern: pathPattern, status: status, body: body, left: n})
}

// FailNextAfterEffect is FailNext for a failure after Discord acted: the
// next n matching requests are acted on as usual (a thread is created, a
// message posted), and then answered with status and body instead of
// their real answer.
func (s *Server) FailNextAfterEffect(method, pathPattern string, status int, body string, n int) {
	s.addFault(&fault{method: method, pattern: pathPattern, status: status, body: body, left: n, after: faultAnswer})
}

// LoseNext makes the answers of the next n matching requests (method and
// pattern as for FailNext) get lost: each request is acted on as usual,
// then its answer is held back until the client goes away (its process is
// killed, its context canceled), DropHeld is called, or the test ends, and
// the connection is closed without an answer. The request's Status stays
// 0. Held tells how many answers are held.
func (s *Server) LoseNext(method, pathPattern string, n int) {
	s.addFault(&fault{method: method, pattern: pathPattern, left: n, after: faultLose})
}

// Held returns the number of answers LoseNext holds back now.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// DropHeld closes the connections of the answers held back now (LoseNext)
// without answering, and returns how many there were.
func (s *Server) DropHeld() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropHeld()
}

func (s *Server) dropHeld() int {
	n := len(s.held)
	for ch := range s.held {
		close(ch)
	}
	clear(s.held)
	return n
}

func (s *Server) addFault(f *fault) {
	if _, err := path.Match(f.pattern, "/"); err != nil {
		panic(fmt.Sprintf("discordfake: bad path pattern %q: %v", f.pattern, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// AddThread creates a thread as a guild member does in Discord's own
// client: under parentID (a text channel, created on first use), named
// name (1 to 100 runes), of type typ (11 public, 12 private), owned by
// ownerID (its creator and first member). Members may name a thread
// anything, including "#41 …" like sdesk's report threads. Nothing is
// recorded as a request. It returns the thread's ID and panics on a bad
// type, name or parent, as a test's own mistake.
func (s *Server) AddThread(parentID, ownerID, name string, typ int) string {
	if typ != 11 && typ != 12 {
		panic(fmt.Sprintf("discordfake: AddThread: type %d is not 11 or 12", typ))
	}
	if n := utf8.RuneCountInString(name); n < 1 || n > 100 {
		panic(fmt.Sprintf("discordfake: AddThread: name %q is not 1 to 100 runes", name))
	}
	if ownerID == "" {
		panic("discordfake: AddThread: no owner")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent := s.textChannel(parentID)
	if isThread(parent) {
		panic(fmt.Sprintf("discordfake: AddThread: parent %s is a thread", parentID))
	}
	parent.known = true
	t := s.newThread(parent, ownerID, name, typ, true, 4320)
	return t.id
}

// SetDelay makes every following answer wait d (or until the client goes
// away).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// takeFault returns the fault that answers r, if any.
func (s *Server) takeFault(method, p string) *fault {
	for i, f := range s.faults {
		if f.method != "" && f.method != "*" && !strings.EqualFold(f.method, method) {
			continue
		}
		if ok, _ := path.Match(f.pattern, p); !ok {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		c := *f
		return &c
	}
	return nil
}

func (s *Server) writeFault(w http.ResponseWriter, f *fault) {
	body := f.body
	if body == "" {
		if f.status == http.StatusTooManyRequests {
			body = `{"message":"You are being rate limited.","retry_after":0.1,"global":false}`
		} else {
			body = statusBody(f.status)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if f.status == http.StatusTooManyRequests {
		var rl struct {
			RetryAfter float64 `json:"retry_after"`
			Global     bool    `json:"global"`
		}
		_ = json.Unmarshal([]byte(body), &rl)
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.RetryAfter))))
		if rl.Global {
			h.Set("X-RateLimit-Global", "true")
			h.Set("X-RateLimit-Scope", "global")
		} else {
			reset := float64(time.Now().UnixMilli())/1000 + rl.RetryAfter
			h.Set("X-RateLimit-Limit", "5")
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.FormatFloat(reset, 'f', 3, 64))
			h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(rl.RetryAfter, 'f', 3, 64))
			h.Set("X-RateLimit-Bucket", "fa4c0bdd8b1e9c2e5d3f7a6b0c9d8e7f")
			h.Set("X-RateLimit-Scope", "user")
		}
	}
	w.WriteHeader(f.status)
	_, _ = io.WriteString(w, body)
}

func statusBody(status int) string {
	b, _ := json.Marshal(map[string]any{"message": fmt.Sprintf("%d: %s", status, http.StatusText(status)), "code": 0})
	return string(b)
}

// serve records a request and answers it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	req := &Request{Method: r.Method, Query: r.URL.Query(), Header: r.Header.Clone(), Time: time.Now()}
	req.Path = strings.TrimPrefix(r.URL.Path, APIPrefix)
	inAPI := r.URL.Path != req.Path && (req.Path == "" || req.Path[0] == '/')
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	req.Body = body
	if err == nil {
		err = req.parseBody(r.Header.Get("Content-Type"))
	}

	s.mu.Lock()
	s.requests = append(s.requests, req)
	delay := s.delay
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}

	s.mu.Lock()
	f := s.takeFault(r.Method, req.Path)
	if f != nil && f.after == faultInstead {
		defer s.mu.Unlock()
		req.Status = f.status
		s.writeFault(w, f)
		return
	}
	status, payload := s.route(req, inAPI, err)
	switch {
	case f == nil:
		defer s.mu.Unlock()
		req.Status = status
		writeJSON(w, status, payload)
	case f.after == faultAnswer:
		defer s.mu.Unlock()
		req.Status = f.status
		s.writeFault(w, f)
	default: // faultLose
		release := make(chan struct{})
		s.held[release] = true
		s.mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-s.closed:
		}
		s.mu.Lock()
		delete(s.held, release)
		s.mu.Unlock()
		dropConnection(w)
	}
}

// dropConnection closes a request's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // the server closes the connection unanswered
}

func writeJSON(w http.ResponseWriter, status int, payload any) {
	if raw, ok := payload.(rawAnswer); ok {
		w.Header().Set("Content-Type", raw.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(raw.data)))
		w.WriteHeader(status)
		_, _ = w.Write(raw.data)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(payload)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(statusBody(http.StatusInternalServerError))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// parseBody fills JSON, Decoded and Files.
func (r *Request) parseBody(contentType string) error {
	if len(r.Body) == 0 {
		return nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	switch mt {
	case "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			data, err := io.ReadAll(p)
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			name := p.FormName()
			switch {
			case name == "payload_json":
				r.JSON = data
			case strings.HasPrefix(name, "files["):
				r.Files = append(r.Files, File{Field: name, Name: p.FileName(), ContentType: p.Header.Get("Content-Type"), Data: data})
			}
		}
	default:
		r.JSON = r.Body
	}
	if r.JSON != nil {
		if !json.Valid(r.JSON) {
			return fmt.Errorf("invalid JSON")
		}
		r.Decoded = decodeAny(r.JSON)
	}
	return nil
}

// newID returns a new snowflake.
func (s *Server) newID() string {
	const discordEpoch = 1420070400000
	id := uint64(time.Now().UnixMilli()-discordEpoch) << 22
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return strconv.FormatUint(id, 10)
}

// compareIDs orders snowflakes numerically.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	return strings.Compare(a, b)
}
