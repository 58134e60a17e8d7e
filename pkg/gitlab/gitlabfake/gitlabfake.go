// Package gitlabfake is a fake GitLab REST API for tests: a real
// httptest.Server answering, under /api/v4, the paths and shapes that
// gitlab.com/gitlab-org/api/client-go uses for issues, notes, the current
// user, the instance version and project uploads of one project. It checks
// PRIVATE-TOKEN, logs requests, injects faults and delays, takes uploads
// (POST /projects/:id/uploads) and serves them (also under the
// /-/project/<id>/uploads/ web form), runs the quick
// actions /close, /reopen and /assign like GitLab does, and records the
// @mentions GitLab would notify, so tests can prove that user text was
// defused.
package gitlabfake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults of a new Server.
const (
	DefaultProjectID   = 4242
	DefaultProjectPath = "acme/support"
	DefaultUserID      = 100
	DefaultUsername    = "sdesk-bot"
	// DefaultVersion is what GET /version answers: a GitLab that serves
	// uploads at /-/project/<id>/uploads/... (17.2 and later).
	DefaultVersion = "17.5.0"
	// DefaultMaxUploadBytes is the largest file POST /projects/:id/uploads
	// takes: GitLab's default maximum attachment size, 100 MB (Admin area
	// > Settings > General > Account and limit).
	DefaultMaxUploadBytes = 100 << 20
)

// Issue is an issue as the fake stores it.
type Issue struct {
	ID           int
	IID          int
	Title        string
	Description  string
	Labels       []string
	Confidential bool
	State        string   // opened or closed
	Assignees    []string // usernames, set by /assign
	Notes        []Note   // in creation order, system notes included
	AuthorID     int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Note is a note as the fake stores it.
type Note struct {
	ID        int
	Body      string
	Internal  bool
	System    bool
	AuthorID  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Request is one logged request.
type Request struct {
	Method string
	Path   string // escaped path, e.g. /api/v4/projects/acme%2Fsupport/issues
	Route  string // matched route, e.g. /projects/:id/issues; "" if none
	Query  url.Values
	Header http.Header
	Body   []byte
	Status int // 0 when the client went away before the answer
}

// Option configures New.
type Option func(*Server)

// WithProject sets the project's numeric ID and full path.
func WithProject(id int, path string) Option {
	return func(s *Server) { s.projectID, s.projectPath = id, path }
}

// WithToken sets the PRIVATE-TOKEN the fake accepts.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithUser sets the token's user (GET /user).
func WithUser(id int, username string) Option {
	return func(s *Server) { s.userID, s.username = id, username }
}

type fault struct {
	method, pattern string
	status, left    int
}

// Server is the fake. All methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu          sync.Mutex
	token       string
	projectID   int
	projectPath string
	userID      int
	username    string
	version     string
	issues      []*Issue
	nextID      int
	nextNoteID  int
	uploads     map[string]int // secret/filename -> index in uploadList
	uploadList  []Upload
	nextUpload  int
	maxUpload   int64
	mentions    []Mention
	requests    []Request
	faults      []*fault
	delay       time.Duration
	retryAfter  time.Duration
	now         time.Time
	access      accessState // access levels, token scopes, hooks (access.go)
}

// New starts a fake GitLab that is closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := newServer(opts...)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// newServer returns a fake's state with opts applied, not serving yet.
func newServer(opts ...Option) *Server {
	tok := make([]byte, 10)
	_, _ = rand.Read(tok)
	s := &Server{
		token:       "glpat-" + hex.EncodeToString(tok),
		projectID:   DefaultProjectID,
		projectPath: DefaultProjectPath,
		userID:      DefaultUserID,
		username:    DefaultUsername,
		version:     DefaultVersion,
		nextID:      90000,
		nextNoteID:  5000,
		uploads:     map[string]int{},
		nextUpload:  700,
		maxUpload:   DefaultMaxUploadBytes,
		now:         time.Date(2024, 5, 14, 10, 0, 0, 0, time.UTC),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// URL is the base URL, without /api/v4 (like GITLAB_URL).
func (s *Server) URL() string { return s.srv.URL }

// Token is the accepted PRIVATE-TOKEN.
func (s *Server) Token() string { return s.token }

// ProjectID is the project's numeric ID.
func (s *Server) ProjectID() int { return s.projectID }

// ProjectPath is the project's full path.
func (s *Server) ProjectPath() string { return s.projectPath }

// SetUser changes the token's user.
func (s *Server) SetUser(id int, username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userID, s.username = id, username
}

// SetVersion sets the version GET /version answers, e.g. "16.11.3-ee"
// (the revision stays a fixed fake commit).
func (s *Server) SetVersion(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version = v
}

// Upload is a file the fake stores: uploaded through the API or added with
// AddUpload. It is served at /api/v4/projects/:id/uploads/<Secret>/<Filename>
// and at /-/project/<id>/uploads/<Secret>/<Filename>.
type Upload struct {
	Secret   string // 32 lowercase hex characters for API uploads
	Filename string // the stored name, sanitized for API uploads
	Data     []byte
}

// AddUpload stores a file served at /projects/:id/uploads/secret/filename
// (and the /-/project/<id>/uploads/ form), as uploaded on GitLab's side;
// the name is kept as given. Adding the same secret and filename again
// replaces the data.
func (s *Server) AddUpload(secret, filename string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeUpload(secret, filename, data)
}

func (s *Server) storeUpload(secret, filename string, data []byte) {
	key := secret + "/" + filename
	if i, ok := s.uploads[key]; ok {
		s.uploadList[i].Data = slices.Clone(data)
		return
	}
	s.uploads[key] = len(s.uploadList)
	s.uploadList = append(s.uploadList, Upload{Secret: secret, Filename: filename, Data: slices.Clone(data)})
}

// Uploads returns copies of the stored uploads, in the order they were
// first stored (API uploads and AddUpload alike).
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, len(s.uploadList))
	for i, u := range s.uploadList {
		u.Data = slices.Clone(u.Data)
		out[i] = u
	}
	return out
}

// SetMaxUploadBytes sets the largest file POST /projects/:id/uploads takes
// (DefaultMaxUploadBytes at first); a larger file is answered 413 "Request
// Entity Too Large" in text/plain, as GitLab Workhorse answers a file over
// the maximum attachment size (helper.RequestEntityTooLarge), and nothing
// is stored.
func (s *Server) SetMaxUploadBytes(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxUpload = n
}

// AddNote stores a note written on GitLab's side (by authorID, e.g. a
// support agent) without running quick actions, and returns its ID; false
// when the issue does not exist.
func (s *Server) AddNote(iid, authorID int, body string, internal bool) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issue(iid)
	if is == nil {
		return 0, false
	}
	s.now = s.now.Add(time.Second)
	s.nextNoteID++
	is.Notes = append(is.Notes, Note{ID: s.nextNoteID, Body: body, Internal: internal, AuthorID: authorID, CreatedAt: s.now, UpdatedAt: s.now})
	is.UpdatedAt = s.now
	return s.nextNoteID, true
}

// Mention is an @mention found in text written through the API.
type Mention struct {
	IID  int    // the issue whose title, description or note held it
	Name string // what follows the '@', e.g. "all" or "group/sub"
}

// Mentions returns the mentions found so far, oldest first: in issue titles
// and descriptions (create and update) and in notes created through the
// API, after quick actions are removed. AddNote records none.
func (s *Server) Mentions() []Mention {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mentions)
}

// Issues returns copies of the stored issues ordered by IID.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, 0, len(s.issues))
	for _, is := range s.issues {
		out = append(out, is.clone())
	}
	return out
}

// Issue returns a copy of one stored issue.
func (s *Server) Issue(iid int) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is := s.issue(iid); is != nil {
		return is.clone(), true
	}
	return Issue{}, false
}

// EditIssue changes a stored issue as staff would in GitLab's UI (labels,
// assignees, state), setting its updated_at to the fake's clock, which
// moves a second; false when there is no such issue. No webhook is sent.
func (s *Server) EditIssue(iid int, edit func(*Issue)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issue(iid)
	if is == nil {
		return false
	}
	edit(is)
	s.now = s.now.Add(time.Second)
	is.UpdatedAt = s.now
	return true
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

// CountRequests counts logged requests with this method ("" or "*": any)
// whose route or path matches pattern (see FailNext).
func (s *Server) CountRequests(method, pattern string) int {
	n := 0
	for _, r := range s.Requests() {
		if matches(method, pattern, r.Method, r.Route, r.Path) {
			n++
		}
	}
	return n
}

// FailNext makes the next n requests with this method ("" or "*": any)
// whose route (e.g. "/projects/:id/issues") equals pattern, or whose path
// below /api/v4 matches it as a path.Match pattern ("*" or "": any), fail
// with status and a GitLab-style {"message": ...} body. They are answered
// before the token is checked, like a proxy would.
func (s *Server) FailNext(method, pattern string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, pattern: pattern, status: status, left: n})
}

// ClearFaults drops every fault FailNext injected and has not used up.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetRetryAfter adds Retry-After (whole seconds) to injected 429 and 503
// answers; 0 removes it.
func (s *Server) SetRetryAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = d
}

// SetDelay makes every answer late by d. The request is processed at once
// (state changes happen) and the answer is held back d, or until the client
// gives up: like a GitLab whose work succeeded but whose answer is slow or
// lost. 0 removes the delay.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

func (is *Issue) clone() Issue {
	c := *is
	c.Labels = slices.Clone(is.Labels)
	c.Assignees = slices.Clone(is.Assignees)
	c.Notes = slices.Clone(is.Notes)
	return c
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func matches(method, pattern, gotMethod, route, escPath string) bool {
	if method != "" && method != "*" && !strings.EqualFold(method, gotMethod) {
		return false
	}
	if pattern == "" || pattern == "*" || pattern == route {
		return true
	}
	ok, _ := path.Match(pattern, strings.TrimPrefix(escPath, "/api/v4"))
	return ok
}

// recorder buffers an answer so that it can be delayed.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rt := s.route(r)
	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.EscapedPath(), Route: rt.name,
		Query: r.URL.Query(), Header: r.Header.Clone(), Body: body,
	})
	delay := s.delay
	s.mu.Unlock()

	rec := &recorder{header: http.Header{}}
	s.handle(rec, r, rt, body)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
	s.mu.Lock()
	s.requests[idx].Status = rec.status
	s.mu.Unlock()
}

type route struct {
	name    string // e.g. /projects/:id/issues/:iid
	project string // the :id segment, unescaped
	iid     int
	noteID  int
	secret  string
	file    string
}

// route maps the escaped path onto a route; segments are unescaped one by
// one so that an encoded project path (acme%2Fsupport) stays one segment.
func (s *Server) route(r *http.Request) route {
	esc := r.URL.EscapedPath()
	if esc == "/api/graphql" {
		return route{name: "/graphql"}
	}
	if strings.HasPrefix(esc, "/-/project/") {
		// The web form of an upload's link (GitLab 17.2 and later), read
		// with PRIVATE-TOKEN as the API is
		// (https://gitlab.com/gitlab-org/gitlab/-/issues/25838).
		seg, ok := unescapeSegments(strings.TrimPrefix(esc, "/-/"))
		if ok && len(seg) == 5 && seg[0] == "project" && seg[2] == "uploads" {
			if _, err := strconv.Atoi(seg[1]); err == nil {
				return route{name: "/-/project/:id/uploads/:secret/:filename", project: seg[1], secret: seg[3], file: seg[4]}
			}
		}
		return route{}
	}
	if !strings.HasPrefix(esc, "/api/v4/") {
		return route{}
	}
	seg, ok := unescapeSegments(strings.TrimSuffix(strings.TrimPrefix(esc, "/api/v4/"), "/"))
	if !ok {
		return route{}
	}
	if rt, ok := accessRoute(seg); ok {
		return rt
	}
	num := func(v string) (int, bool) {
		n, err := strconv.Atoi(v)
		return n, err == nil && n > 0
	}
	switch {
	case len(seg) == 1 && seg[0] == "user":
		return route{name: "/user"}
	case len(seg) == 1 && seg[0] == "version":
		return route{name: "/version"}
	case len(seg) == 2 && seg[0] == "projects":
		return route{name: "/projects/:id", project: seg[1]}
	case len(seg) < 3 || seg[0] != "projects":
		return route{}
	}
	rt := route{project: seg[1]}
	switch {
	case len(seg) == 3 && seg[2] == "issues":
		rt.name = "/projects/:id/issues"
	case len(seg) == 4 && seg[2] == "issues":
		if n, ok := num(seg[3]); ok {
			rt.name, rt.iid = "/projects/:id/issues/:iid", n
		}
	case len(seg) == 5 && seg[2] == "issues" && seg[4] == "notes":
		if n, ok := num(seg[3]); ok {
			rt.name, rt.iid = "/projects/:id/issues/:iid/notes", n
		}
	case len(seg) == 6 && seg[2] == "issues" && seg[4] == "notes":
		n, ok1 := num(seg[3])
		m, ok2 := num(seg[5])
		if ok1 && ok2 {
			rt.name, rt.iid, rt.noteID = "/projects/:id/issues/:iid/notes/:note_id", n, m
		}
	case len(seg) == 3 && seg[2] == "uploads":
		rt.name = "/projects/:id/uploads"
	case len(seg) == 5 && seg[2] == "uploads":
		rt.name, rt.secret, rt.file = "/projects/:id/uploads/:secret/:filename", seg[3], seg[4]
	}
	return rt
}

// unescapeSegments splits an escaped path at "/" and unescapes each
// segment, so that an encoded project path (acme%2Fsupport) stays one.
func unescapeSegments(esc string) ([]string, bool) {
	raw := strings.Split(esc, "/")
	seg := make([]string, len(raw))
	for i, p := range raw {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, false
		}
		seg[i] = u
	}
	return seg, true
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, rt route, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.left > 0 && matches(f.method, f.pattern, r.Method, rt.name, r.URL.EscapedPath()) {
			f.left--
			if s.retryAfter > 0 && (f.status == http.StatusTooManyRequests || f.status == http.StatusServiceUnavailable) {
				w.Header().Set("Retry-After", strconv.Itoa(int(s.retryAfter.Round(time.Second)/time.Second)))
			}
			message(w, f.status, fmt.Sprintf("%d %s", f.status, http.StatusText(f.status)))
			return
		}
	}
	if r.Header.Get("Private-Token") != s.token {
		message(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	if rt.name == "" {
		message(w, http.StatusNotFound, "404 Not Found")
		return
	}
	if rt.project != "" && rt.project != strconv.Itoa(s.projectID) && !strings.EqualFold(rt.project, s.projectPath) {
		message(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	s.now = s.now.Add(time.Second)
	if s.serveAccess(w, r, rt) {
		return
	}
	switch rt.name + " " + r.Method {
	case "/user GET":
		writeJSON(w, http.StatusOK, s.userJSON(s.userID, s.username))
	case "/version GET":
		// https://docs.gitlab.com/api/version/ (a mirror of the metadata
		// API since 15.5, which adds kas and enterprise).
		writeJSON(w, http.StatusOK, map[string]any{
			"version": s.version, "revision": "6a1b2c3d4e5", "enterprise": false,
			"kas": map[string]any{"enabled": false, "externalUrl": nil, "version": nil},
		})
	case "/graphql POST":
		s.graphql(w, body)
	case "/projects/:id/issues POST":
		s.createIssue(w, r, body)
	case "/projects/:id/issues GET":
		s.listIssues(w, r)
	case "/projects/:id/issues/:iid GET":
		if is := s.issue(rt.iid); is != nil {
			writeJSON(w, http.StatusOK, s.issueJSON(is))
		} else {
			message(w, http.StatusNotFound, "404 Issue Not Found")
		}
	case "/projects/:id/issues/:iid PUT":
		s.updateIssue(w, r, rt.iid, body)
	case "/projects/:id/issues/:iid/notes POST":
		s.createNote(w, r, rt.iid, body)
	case "/projects/:id/issues/:iid/notes GET":
		is := s.issue(rt.iid)
		if is == nil {
			message(w, http.StatusNotFound, "404 Issue Not Found")
			return
		}
		out := make([]map[string]any, 0, len(is.Notes))
		for i := range is.Notes {
			out = append(out, s.noteJSON(is, &is.Notes[i]))
		}
		writeJSON(w, http.StatusOK, out)
	case "/projects/:id/issues/:iid/notes/:note_id GET":
		is := s.issue(rt.iid)
		if is == nil {
			message(w, http.StatusNotFound, "404 Issue Not Found")
			return
		}
		for i := range is.Notes {
			if is.Notes[i].ID == rt.noteID {
				writeJSON(w, http.StatusOK, s.noteJSON(is, &is.Notes[i]))
				return
			}
		}
		message(w, http.StatusNotFound, "404 Note Not Found")
	case "/projects/:id/uploads POST":
		s.createUpload(w, r, body)
	case "/projects/:id/uploads/:secret/:filename GET", "/-/project/:id/uploads/:secret/:filename GET":
		i, ok := s.uploads[rt.secret+"/"+rt.file]
		if !ok {
			message(w, http.StatusNotFound, "404 Not Found")
			return
		}
		data := s.uploadList[i].Data
		ct := mime.TypeByExtension(path.Ext(rt.file))
		if ct == "" {
			ct = http.DetectContentType(data)
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
	default:
		message(w, http.StatusMethodNotAllowed, "405 Method Not Allowed")
	}
}

// createUpload takes a multipart file (field "file") like POST
// /projects/:id/uploads (https://docs.gitlab.com/api/project_markdown_uploads/#upload-a-file):
// it stores it under a new random secret with its name sanitized and
// answers 201 with GitLab's JSON: id, alt, url, full_path (the
// /-/project/<id> form of GitLab 17.1 and later) and markdown.
func (s *Server) createUpload(w http.ResponseWriter, r *http.Request, body []byte) {
	name, data, ok := multipartFile(r.Header.Get("Content-Type"), body, "file")
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "file is missing"})
		return
	}
	if int64(len(data)) > s.maxUpload {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = io.WriteString(w, "Request Entity Too Large\n")
		return
	}
	name = SanitizeFilename(name)
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	hexSecret := hex.EncodeToString(secret)
	s.storeUpload(hexSecret, name, data)
	s.nextUpload++
	u := "/uploads/" + hexSecret + "/" + name
	alt, md := name, "["+name+"]("+u+")"
	if strings.HasPrefix(mime.TypeByExtension(path.Ext(name)), "image/") {
		alt = strings.TrimSuffix(name, path.Ext(name))
		md = "!" + "[" + alt + "](" + u + ")"
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": s.nextUpload, "alt": alt, "url": u,
		"full_path": "/-/project/" + strconv.Itoa(s.projectID) + u,
		"markdown":  md,
	})
}

// multipartFile returns the file name and data of the first part named
// field of a multipart/form-data body.
func multipartFile(contentType string, body []byte, field string) (string, []byte, bool) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" {
		return "", nil, false
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "", nil, false
		}
		if p.FormName() != field {
			continue
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return "", nil, false
		}
		// The name as sent, not Part.FileName's filepath.Base of it:
		// SanitizeFilename takes the base name the way GitLab does.
		_, cd, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		if err != nil {
			return p.FileName(), data, true
		}
		return cd["filename"], data, true
	}
}

// unsafeFilenameRe is CarrierWave's default sanitize_regexp,
// /[^[:word:]\.\-\+]/ (lib/carrierwave/sanitized_file.rb), with Ruby's
// [[:word:]] (Letter, Mark, Decimal_Number, Connector_Punctuation).
var unsafeFilenameRe = regexp.MustCompile(`[^\p{L}\p{M}\p{Nd}\p{Pc}.+\-]`)

// SanitizeFilename is the name GitLab stores an uploaded file under, as
// CarrierWave's SanitizedFile#sanitize makes it: "\" becomes "/", the
// base name is kept (File.basename: what follows the last "/" that is not
// at the end), invalid UTF-8 becomes "_", every character but letters,
// marks, digits, connector punctuation ("_"), ".", "-" and "+" becomes
// "_", a name of dots only gets a "_" in front, and an empty name is
// "unnamed". (CarrierWave also takes the path of a name that parses as a
// URI; that step is not modelled.)
func SanitizeFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if base := strings.TrimRight(name, "/"); base != "" || name == "" {
		name = base[strings.LastIndex(base, "/")+1:]
	} else {
		name = "/" // File.basename("//") is "/"
	}
	name = unsafeFilenameRe.ReplaceAllString(strings.ToValidUTF8(name, "_"), "_")
	if name != "" && strings.Trim(name, ".") == "" {
		name = "_" + name
	}
	if name == "" {
		name = "unnamed"
	}
	return name
}

func message(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"500 Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// params holds a request's parameters: JSON body, form body or query.
type params map[string]any

func readParams(r *http.Request, body []byte) (params, error) {
	p := params{}
	for k, v := range r.URL.Query() {
		p[k] = v[len(v)-1]
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		for k, v := range vals {
			p[k] = v[len(v)-1]
		}
		return p, nil
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	for k, v := range m {
		p[k] = v
	}
	return p, nil
}

func (p params) str(k string) (string, bool) {
	switch v := p[k].(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func (p params) boolean(k string) (bool, bool) {
	switch v := p[k].(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(v)
		return b, err == nil
	}
	return false, false
}

// labels reads "a,b" or ["a","b"].
func (p params) labels(k string) ([]string, bool) {
	var raw []string
	switch v := p[k].(type) {
	case string:
		raw = strings.Split(v, ",")
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				raw = append(raw, s)
			}
		}
	default:
		return nil, false
	}
	out := []string{}
	for _, l := range raw {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, true
}

func (s *Server) issue(iid int) *Issue {
	for _, is := range s.issues {
		if is.IID == iid {
			return is
		}
	}
	return nil
}

func (s *Server) createIssue(w http.ResponseWriter, r *http.Request, body []byte) {
	p, err := readParams(r, body)
	if err != nil {
		message(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	title, _ := p.str("title")
	if strings.TrimSpace(title) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "title is missing"})
		return
	}
	desc, _ := p.str("description")
	conf, _ := p.boolean("confidential")
	labels, _ := p.labels("labels")
	if labels == nil {
		labels = []string{}
	}
	s.nextID++
	is := &Issue{
		ID: s.nextID, IID: len(s.issues) + 1, Title: title, Labels: labels,
		Confidential: conf, State: "opened", AuthorID: s.userID,
		CreatedAt: s.now, UpdatedAt: s.now,
	}
	s.issues = append(s.issues, is)
	is.Description = s.runQuickActions(is, desc)
	s.recordMentions(is, title, is.Description)
	writeJSON(w, http.StatusCreated, s.issueJSON(is))
}

func (s *Server) listIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	words := strings.Fields(strings.ToLower(q.Get("search")))
	in := q.Get("in")
	if in == "" {
		in = "title,description"
	}
	state := q.Get("state")
	var hits []*Issue
	for _, is := range s.issues {
		if state != "" && state != "all" && state != is.State {
			continue
		}
		var hay string
		for _, f := range strings.Split(in, ",") {
			switch strings.TrimSpace(f) {
			case "title":
				hay += strings.ToLower(is.Title) + "\n"
			case "description":
				hay += strings.ToLower(is.Description) + "\n"
			}
		}
		ok := true
		for _, wd := range words {
			if !strings.Contains(hay, wd) {
				ok = false
				break
			}
		}
		if ok {
			hits = append(hits, is)
		}
	}
	// GitLab's default order is created_at desc.
	asc := q.Get("sort") == "asc"
	sort.SliceStable(hits, func(i, j int) bool {
		if asc {
			return hits[i].IID < hits[j].IID
		}
		return hits[i].IID > hits[j].IID
	})
	page, _ := strconv.Atoi(q.Get("page"))
	per, _ := strconv.Atoi(q.Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 || per > 100 {
		per = 20
	}
	total := len(hits)
	pages := max((total+per-1)/per, 1)
	lo, hi := min((page-1)*per, total), min(page*per, total)
	out := make([]map[string]any, 0, hi-lo)
	for _, is := range hits[lo:hi] {
		out = append(out, s.issueJSON(is))
	}
	h := w.Header()
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Page", strconv.Itoa(page))
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
	} else {
		h.Set("X-Next-Page", "")
	}
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(page-1))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) updateIssue(w http.ResponseWriter, r *http.Request, iid int, body []byte) {
	is := s.issue(iid)
	if is == nil {
		message(w, http.StatusNotFound, "404 Issue Not Found")
		return
	}
	p, err := readParams(r, body)
	if err != nil {
		message(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	if t, ok := p.str("title"); ok {
		if strings.TrimSpace(t) == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string]any{"title": []string{"can't be blank"}}})
			return
		}
		is.Title = t
		s.recordMentions(is, t)
	}
	if c, ok := p.boolean("confidential"); ok {
		is.Confidential = c
	}
	if l, ok := p.labels("labels"); ok {
		is.Labels = l
	}
	if ev, ok := p.str("state_event"); ok {
		switch ev {
		case "close":
			s.setState(is, "closed")
		case "reopen":
			s.setState(is, "opened")
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "state_event does not have a valid value"})
			return
		}
	}
	if d, ok := p.str("description"); ok {
		is.Description = s.runQuickActions(is, d)
		s.recordMentions(is, is.Description)
	}
	is.UpdatedAt = s.now
	writeJSON(w, http.StatusOK, s.issueJSON(is))
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request, iid int, body []byte) {
	is := s.issue(iid)
	if is == nil {
		message(w, http.StatusNotFound, "404 Issue Not Found")
		return
	}
	p, err := readParams(r, body)
	if err != nil {
		message(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	text, _ := p.str("body")
	if strings.TrimSpace(text) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "body is missing"})
		return
	}
	internal, _ := p.boolean("internal")
	if c, ok := p.boolean("confidential"); ok && c {
		internal = true
	}
	text = s.runQuickActions(is, text)
	s.recordMentions(is, text)
	s.nextNoteID++
	n := Note{ID: s.nextNoteID, Body: text, Internal: internal, AuthorID: s.userID, CreatedAt: s.now, UpdatedAt: s.now}
	is.Notes = append(is.Notes, n)
	is.UpdatedAt = s.now
	writeJSON(w, http.StatusCreated, s.noteJSON(is, &is.Notes[len(is.Notes)-1]))
}

func (s *Server) setState(is *Issue, state string) {
	if is.State == state {
		return
	}
	is.State = state
	verb := "closed"
	if state == "opened" {
		verb = "reopened"
	}
	s.systemNote(is, verb)
}

func (s *Server) systemNote(is *Issue, body string) {
	s.nextNoteID++
	is.Notes = append(is.Notes, Note{ID: s.nextNoteID, Body: body, System: true, AuthorID: s.userID, CreatedAt: s.now, UpdatedAt: s.now})
}

// quickActionRE is GitLab's extractor pattern (lib/gitlab/quick_actions/
// extractor.rb): code blocks, HTML blocks and >>> quotes are skipped; a
// command is a line starting with /<name>. Unlike GitLab, leading blanks
// before the / are accepted too, so tests are stricter than production.
var quickActionRE = regexp.MustCompile("(?ims)" +
	"(?P<code>^```.+?\\n```$)" +
	"|(?P<html>^<[^>]+?>\\n.+?\\n</[^>]+?>$)" +
	"|(?P<quote>^>>>.+?\\n>>>$)" +
	"|(?:^[\\t\\f\\v ]*/(?P<cmd>close|reopen|assign)(?:[ ](?P<arg>[^\\n]*))?(?:[ \\t]*\\n|$))")

// runQuickActions applies /close, /reopen and /assign found in text (after
// deleting \r, as GitLab does) and returns the text without them.
func (s *Server) runQuickActions(is *Issue, text string) string {
	text = strings.ReplaceAll(text, "\r", "")
	cmdIdx := quickActionRE.SubexpIndex("cmd")
	argIdx := quickActionRE.SubexpIndex("arg")
	var out strings.Builder
	last := 0
	for _, m := range quickActionRE.FindAllStringSubmatchIndex(text, -1) {
		if m[2*cmdIdx] < 0 {
			continue
		}
		out.WriteString(text[last:m[0]])
		last = m[1]
		arg := ""
		if m[2*argIdx] >= 0 {
			arg = text[m[2*argIdx]:m[2*argIdx+1]]
		}
		switch strings.ToLower(text[m[2*cmdIdx]:m[2*cmdIdx+1]]) {
		case "close":
			s.setState(is, "closed")
		case "reopen":
			s.setState(is, "opened")
		case "assign":
			for _, f := range strings.Fields(arg) {
				u := strings.TrimPrefix(f, "@")
				if u == "me" {
					u = s.username
				}
				if u != "" && !slices.Contains(is.Assignees, u) {
					is.Assignees = append(is.Assignees, u)
					s.systemNote(is, "assigned to @"+u)
				}
			}
		}
	}
	out.WriteString(text[last:])
	return out.String()
}

// mentionRE finds a mention the way GitLab's user reference filter does
// (an '@' and a username or group path), on text whose character
// references are decoded and whose backslash escapes are resolved, as in
// the rendered note. Unlike GitLab, it also looks inside code, links and
// words (so e-mail addresses count), and it decodes references before
// escapes: tests are stricter than production.
var mentionRE = regexp.MustCompile(`@([A-Za-z0-9_.][A-Za-z0-9_./-]*)`)

// markdownEscapeRE is a backslash escape of ASCII punctuation.
var markdownEscapeRE = regexp.MustCompile(`\\([!-/:-@[-` + "`" + `{-~])`)

func (s *Server) recordMentions(is *Issue, texts ...string) {
	for _, t := range texts {
		t = markdownEscapeRE.ReplaceAllString(html.UnescapeString(t), "$1")
		for _, m := range mentionRE.FindAllStringSubmatch(t, -1) {
			s.mentions = append(s.mentions, Mention{IID: is.IID, Name: m[1]})
		}
	}
}

func (s *Server) userJSON(id int, username string) map[string]any {
	return map[string]any{
		"id": id, "username": username, "name": username, "state": "active",
		"locked": false, "avatar_url": s.srv.URL + "/uploads/-/system/user/avatar/" + strconv.Itoa(id) + "/avatar.png",
		"web_url": s.srv.URL + "/" + username, "bot": false,
	}
}

func (s *Server) usernameOf(id int) string {
	if id == s.userID {
		return s.username
	}
	return "user" + strconv.Itoa(id)
}

// graphql answers the one query sdesk sends: an issue's webUrl and full
// reference by its global ID ("gid://gitlab/Issue/<id>"); null when none.
func (s *Server) graphql(w http.ResponseWriter, body []byte) {
	var q struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(body, &q); err != nil || !strings.Contains(q.Query, "issue(id:") {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []map[string]string{{"message": "unsupported query"}}})
		return
	}
	gid, _ := q.Variables["id"].(string)
	id, _ := strconv.Atoi(strings.TrimPrefix(gid, "gid://gitlab/Issue/"))
	var issue any
	for _, is := range s.issues {
		if is.ID == id {
			issue = map[string]any{"webUrl": s.issueURL(is), "reference": s.projectPath + "#" + strconv.Itoa(is.IID)}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"issue": issue}})
}

func (s *Server) issueURL(is *Issue) string {
	return s.srv.URL + "/" + s.projectPath + "/-/issues/" + strconv.Itoa(is.IID)
}

func (s *Server) issueJSON(is *Issue) map[string]any {
	assignees := make([]map[string]any, 0, len(is.Assignees))
	for i, u := range is.Assignees {
		assignees = append(assignees, s.userJSON(1000+i, u))
	}
	var assignee any
	if len(assignees) > 0 {
		assignee = assignees[0]
	}
	var closedAt any
	if is.State == "closed" {
		closedAt = is.UpdatedAt.Format(time.RFC3339Nano)
	}
	userNotes := 0
	for _, n := range is.Notes {
		if !n.System {
			userNotes++
		}
	}
	ref := "#" + strconv.Itoa(is.IID)
	return map[string]any{
		"id": is.ID, "iid": is.IID, "project_id": s.projectID,
		"title": is.Title, "description": is.Description, "state": is.State,
		"created_at": is.CreatedAt.Format(time.RFC3339Nano), "updated_at": is.UpdatedAt.Format(time.RFC3339Nano),
		"closed_at": closedAt, "closed_by": nil,
		"labels": slices.Clone(is.Labels), "milestone": nil,
		"assignees": assignees, "assignee": assignee,
		"author": s.userJSON(is.AuthorID, s.usernameOf(is.AuthorID)),
		"type":   "ISSUE", "issue_type": "issue",
		"user_notes_count": userNotes, "merge_requests_count": 0,
		"upvotes": 0, "downvotes": 0, "due_date": nil,
		"confidential": is.Confidential, "discussion_locked": nil,
		"web_url": s.issueURL(is),
		"references": map[string]any{
			"short": ref, "relative": ref, "full": s.projectPath + ref,
		},
		"time_stats": map[string]any{
			"time_estimate": 0, "total_time_spent": 0,
			"human_time_estimate": nil, "human_total_time_spent": nil,
		},
		"task_completion_status": map[string]any{"count": 0, "completed_count": 0},
		"has_tasks":              false,
		"_links": map[string]any{
			"self":    fmt.Sprintf("%s/api/v4/projects/%d/issues/%d", s.srv.URL, s.projectID, is.IID),
			"notes":   fmt.Sprintf("%s/api/v4/projects/%d/issues/%d/notes", s.srv.URL, s.projectID, is.IID),
			"project": fmt.Sprintf("%s/api/v4/projects/%d", s.srv.URL, s.projectID),
		},
		"moved_to_id": nil, "service_desk_reply_to": nil,
	}
}

func (s *Server) noteJSON(is *Issue, n *Note) map[string]any {
	return map[string]any{
		"id": n.ID, "type": nil, "body": n.Body, "attachment": nil,
		"author":     s.userJSON(n.AuthorID, s.usernameOf(n.AuthorID)),
		"created_at": n.CreatedAt.Format(time.RFC3339Nano), "updated_at": n.UpdatedAt.Format(time.RFC3339Nano),
		"system": n.System, "noteable_id": is.ID, "noteable_type": "Issue",
		"project_id": s.projectID, "noteable_iid": is.IID,
		"resolvable": false, "confidential": n.Internal, "internal": n.Internal,
		"imported": false, "imported_from": "none",
	}
}
