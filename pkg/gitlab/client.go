// Package gitlab is sdesk's GitLab adapter: a REST client implementing
// sdesk.GitLab on top of gitlab.com/gitlab-org/api/client-go, and the
// webhook decoder. The client sends no text that breaks the rules of
// package gfm (quick actions, mentions, references): it refuses it with
// ErrUnsafeText instead of rewriting it.
package gitlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/sdesk/sdesk/pkg/gfm"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// MaxUploadSize is the largest file DownloadUpload accepts (25 MiB).
const MaxUploadSize = 25 << 20

// ErrTooLarge is wrapped by DownloadUpload when a file exceeds
// MaxUploadSize; it matches sdesk.ErrTooLarge.
var ErrTooLarge = fmt.Errorf("%w: over 25 MiB", sdesk.ErrTooLarge)

// ErrUnsafeText is wrapped, together with gfm.Check's error, by
// CreateIssue, SetDescription and CreateNote when a title, description or
// note breaks rules 1 to 3 of package gfm: it could run a quick action,
// notify someone or reference another issue. Nothing is sent then, and no
// retry can help: the caller must build its text with gfm.
var ErrUnsafeText = errors.New("text is not safe for GitLab")

// checkText refuses text that gfm.Check refuses; op and field name the
// call and the text in the error.
func checkText(op, field, text string) error {
	check := gfm.Check
	if field == "title" {
		check = gfm.CheckTitle // GitLab shows a title without Markdown: nothing in it is a link
	}
	if err := check(text); err != nil {
		return sdesk.Permanent(fmt.Errorf("gitlab: %s: %s: %w: %w", op, field, ErrUnsafeText, err),
			"sdesk built a text that breaks its own trust rules and did not send it; please report this with the log line")
	}
	return nil
}

// permanentStatus are GitLab's answers that no retry changes (besides 404
// and 410, which also wrap sdesk.ErrNotFound), with the operator's fix.
var permanentStatus = map[int]string{
	http.StatusUnauthorized: "GITLAB_TOKEN is invalid, expired or revoked: set a new token with the api scope",
	http.StatusForbidden:    "the GITLAB_TOKEN user may not do this in GITLAB_PROJECT: give it the Reporter role (Developer to close issues)",
}

const (
	defaultMaxRetries = 3
	retryBase         = 250 * time.Millisecond
	retryCap          = 10 * time.Second
	// maxRetryAfter: a longer Retry-After is not waited for; the error is
	// returned so that the caller's own scheduling takes over.
	maxRetryAfter = 2 * time.Minute
	// markerPages bounds how many pages of search results
	// FindIssueByMarker reads.
	markerPages = 10
)

// ClientConfig configures NewClient.
type ClientConfig struct {
	// BaseURL is the GitLab instance, e.g. https://gitlab.com (no /api/v4).
	BaseURL string
	// Token is a personal, project or group access token (PRIVATE-TOKEN).
	Token string
	// Project is the numeric project ID or its full path (group/sub/project).
	Project string
	// HTTPClient is copied, never modified; nil: a client with a 30 s timeout.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of one call; 0 means 3, negative none.
	MaxRetries int
	// Logger receives retry notices; nil discards them.
	Logger *slog.Logger
}

// Client implements sdesk.GitLab for one project.
type Client struct {
	api *gl.Client
	// files is api without the HTTP client's timeout, for uploads and
	// downloads of files: a 25 MB file may take longer than an API call,
	// and the caller's context (a job attempt's deadline) bounds it.
	files      *gl.Client
	project    string
	maxRetries int
	log        *slog.Logger

	userSem chan struct{} // one CurrentUser request at a time
	userID  int           // guarded by userSem
	userOK  chan struct{} // closed once userID is known

	projectMu   sync.Mutex // one project look-up at a time
	projectID   int        // guarded by projectMu; 0 until looked up
	projectPath string     // guarded by projectMu: path_with_namespace

	uploadsMu   sync.Mutex // one UploadsURL decision at a time
	uploadsURL  string     // guarded by uploadsMu; "" until decided
	versionRead bool       // guarded by uploadsMu: GET /version was answered, or failed
	idUploads   bool       // guarded by uploadsMu: uploads are served in the project-ID form
}

// ProjectID returns the numeric ID of the configured project: the
// configured value itself when it is numeric, else looked up once by path
// (GET /projects/:path, https://docs.gitlab.com/api/projects/#get-a-single-project)
// and kept for the client's life, so that a project renamed or moved to
// another group later is still recognised by its ID. Nothing is fetched
// before the first call.
func (c *Client) ProjectID(ctx context.Context) (int, error) {
	if id, err := strconv.Atoi(c.project); err == nil {
		return id, nil
	}
	id, _, err := c.lookupProject(ctx)
	return id, err
}

// lookupProject reads the project's numeric ID and path_with_namespace
// once (GET /projects/:id) and keeps them for the client's life; an error
// keeps nothing.
func (c *Client) lookupProject(ctx context.Context) (int, string, error) {
	c.projectMu.Lock()
	defer c.projectMu.Unlock()
	if c.projectID != 0 {
		return c.projectID, c.projectPath, nil
	}
	var p *gl.Project
	err := c.call(ctx, "get project "+c.project, idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		p, resp, err = c.api.Projects.GetProject(c.project, nil, o...)
		return resp, err
	})
	if err != nil {
		return 0, "", err
	}
	c.projectID, c.projectPath = int(p.ID), p.PathWithNamespace
	return c.projectID, c.projectPath, nil
}

var _ sdesk.GitLab = (*Client)(nil)

// NewClient returns a Client. client-go's own retries are switched off:
// Client applies the policy described at (*Client).call instead.
func NewClient(cfg ClientConfig) (*Client, error) {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gitlab: base URL %q: want http(s)://host", cfg.BaseURL)
	}
	if cfg.Token == "" {
		return nil, errors.New("gitlab: no token")
	}
	project := strings.Trim(strings.TrimSpace(cfg.Project), "/")
	if project == "" {
		return nil, errors.New("gitlab: no project")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	transport := hc.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	hc.Transport = &limitTransport{base: transport}
	hc.CheckRedirect = stripTokenOnRedirect(hc.CheckRedirect)

	newAPI := func(hc *http.Client) (*gl.Client, error) {
		return gl.NewClient(cfg.Token,
			gl.WithURLWarningLogger(log),
			gl.WithBaseURL(base+"/api/v4"),
			gl.WithHTTPClient(hc),
			gl.WithoutRetries(),
		)
	}
	api, err := newAPI(hc)
	if err != nil {
		return nil, fmt.Errorf("gitlab: new client: %w", err)
	}
	fhc := *hc
	fhc.Timeout = 0
	files, err := newAPI(&fhc)
	if err != nil {
		return nil, fmt.Errorf("gitlab: new client: %w", err)
	}
	maxRetries := cfg.MaxRetries
	switch {
	case maxRetries == 0:
		maxRetries = defaultMaxRetries
	case maxRetries < 0:
		maxRetries = 0
	}
	return &Client{
		api:        api,
		files:      files,
		project:    project,
		maxRetries: maxRetries,
		log:        log,
		userSem:    make(chan struct{}, 1),
		userOK:     make(chan struct{}),
	}, nil
}

// stripTokenOnRedirect drops credentials when a redirect leaves the GitLab
// host (uploads may redirect to object storage): net/http only strips
// Authorization and cookies by itself, not PRIVATE-TOKEN.
func stripTokenOnRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if req.URL.Host != via[0].URL.Host {
			for _, h := range []string{"Private-Token", "Authorization", "Job-Token"} {
				req.Header.Del(h)
			}
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// retryMode says which failures a call may retry.
type retryMode int

const (
	// idempotent: GET, and PUTs that set a value. Retried on 429, any 5xx
	// but 501, and any network error.
	idempotent retryMode = iota
	// create: POSTs that create something (issue, note). Retried only when
	// the request certainly did not reach GitLab's handler, since a retry
	// after that could create a duplicate: 429 (rejected by the rate
	// limiter before the handler), 503 (the proxy found no backend to take
	// it), and errors while dialing (connection refused, DNS, dial
	// timeout). Not a timeout or reset once the request was sent, not 500,
	// 502 or 504 (a proxy also answers 502 when the backend died after it
	// acted): the issue or note may exist. Callers make creation idempotent
	// with FindIssueByMarker.
	create
)

// call runs fn until it succeeds, fails for good, or has been retried
// maxRetries times. Waits are exponential with jitter, or the server's
// Retry-After. A wait that would pass ctx's deadline is not started: the
// error then wraps context.DeadlineExceeded and the last failure. A 404
// wraps sdesk.ErrNotFound.
func (c *Client) call(ctx context.Context, op string, mode retryMode, fn func(...gl.RequestOptionFunc) (*gl.Response, error)) error {
	for attempt := 0; ; attempt++ {
		resp, err := fn(gl.WithContext(ctx))
		if err == nil {
			return nil
		}
		status := 0
		if resp != nil && resp.Response != nil {
			status = resp.StatusCode
		}
		if status == http.StatusNotFound || status == http.StatusGone || errors.Is(err, gl.ErrNotFound) {
			return sdesk.Permanent(fmt.Errorf("gitlab: %s: %w: %w", op, sdesk.ErrNotFound, err),
				"the issue or note is gone from GITLAB_PROJECT (deleted or moved); nothing to retry")
		}
		if fix, ok := permanentStatus[status]; ok {
			return sdesk.Permanent(fmt.Errorf("gitlab: %s: %w", op, err), fix)
		}
		if ctx.Err() != nil {
			if errors.Is(err, ctx.Err()) {
				return fmt.Errorf("gitlab: %s: %w", op, err)
			}
			return fmt.Errorf("gitlab: %s: %w: %w", op, ctx.Err(), err)
		}
		if !retryable(mode, status, err) || attempt >= c.maxRetries {
			return fmt.Errorf("gitlab: %s: %w", op, err)
		}
		wait, fromServer := retryAfter(resp)
		if !fromServer {
			wait = backoff(attempt)
		} else if wait > maxRetryAfter {
			return fmt.Errorf("gitlab: %s: server asks to wait %s: %w", op, wait, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
			return fmt.Errorf("gitlab: %s: waiting %s to retry would pass the deadline: %w: %w",
				op, wait.Round(time.Millisecond), context.DeadlineExceeded, err)
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "gitlab: retrying",
			slog.String("op", op), slog.Int("attempt", attempt+1),
			slog.Int("status", status), slog.Duration("wait", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("gitlab: %s: %w: %w", op, ctx.Err(), err)
		case <-t.C:
		}
	}
}

func retryable(mode retryMode, status int, err error) bool {
	if errors.Is(err, ErrTooLarge) {
		return false
	}
	if status != 0 {
		switch {
		case status == http.StatusTooManyRequests,
			status == http.StatusServiceUnavailable:
			return true
		case mode == idempotent:
			return status >= 500 && status != http.StatusNotImplemented
		}
		return false
	}
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case mode == idempotent:
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return false // a client timeout: the request may have been sent
	}
	return notSent(err)
}

// notSent reports whether a transport error happened before any byte of
// the request could reach GitLab.
func notSent(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// retryAfter reads Retry-After (seconds or an HTTP date).
func retryAfter(resp *gl.Response) (time.Duration, bool) {
	if resp == nil || resp.Response == nil {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// backoff is exponential with "equal jitter": half fixed, half random.
func backoff(attempt int) time.Duration {
	d := retryCap
	if attempt < 16 {
		d = min(retryBase<<attempt, retryCap)
	}
	return d/2 + rand.N(d/2+1)
}

func toIssue(is *gl.Issue) sdesk.Issue {
	iss := sdesk.Issue{
		ID:           int(is.ID),
		IID:          int(is.IID),
		Title:        is.Title,
		State:        is.State,
		WebURL:       is.WebURL,
		Confidential: is.Confidential,
	}
	if is.Author != nil {
		iss.AuthorID = int(is.Author.ID)
	}
	iss.Labels = []string(is.Labels)
	for _, a := range is.Assignees {
		if a == nil {
			continue
		}
		name := a.Name
		if name == "" {
			name = a.Username
		}
		iss.Assignees = append(iss.Assignees, name)
	}
	if is.UpdatedAt != nil {
		iss.UpdatedAt = is.UpdatedAt.UTC()
	}
	iss.MovedToID = int(is.MovedToID)
	return iss
}

// CreateIssue creates an issue. It is retried only when GitLab certainly
// did not receive it (see create). A title or description that gfm.Check
// refuses is not sent: the error wraps ErrUnsafeText.
func (c *Client) CreateIssue(ctx context.Context, in sdesk.NewIssue) (sdesk.Issue, error) {
	if err := checkText("create issue", "title", in.Title); err != nil {
		return sdesk.Issue{}, err
	}
	if err := checkText("create issue", "description", in.Description); err != nil {
		return sdesk.Issue{}, err
	}
	opt := &gl.CreateIssueOptions{
		Title:        gl.Ptr(in.Title),
		Description:  gl.Ptr(in.Description),
		Confidential: gl.Ptr(in.Confidential),
	}
	if len(in.Labels) > 0 {
		labels := gl.LabelOptions(in.Labels)
		opt.Labels = &labels
	}
	var is *gl.Issue
	err := c.call(ctx, "create issue", create, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		is, resp, err = c.api.Issues.CreateIssue(c.project, opt, o...)
		return resp, err
	})
	if err != nil {
		return sdesk.Issue{}, err
	}
	return toIssue(is), nil
}

// FindIssuesByMarker searches the project's issues (all states, oldest
// first) for marker in the description, and returns every one whose
// description really contains it (GitLab's search is fuzzy), oldest first,
// or an error wrapping sdesk.ErrNotFound when there is none. It reads at
// most markerPages pages of 100.
func (c *Client) FindIssuesByMarker(ctx context.Context, marker string) ([]sdesk.Issue, error) {
	if strings.TrimSpace(marker) == "" {
		return nil, errors.New("gitlab: find issues by marker: empty marker")
	}
	opt := &gl.ListProjectIssuesOptions{
		ListOptions: gl.ListOptions{PerPage: 100, Page: 1},
		Search:      gl.Ptr(marker),
		In:          gl.Ptr("description"),
		OrderBy:     gl.Ptr("created_at"),
		Sort:        gl.Ptr("asc"),
	}
	var found []sdesk.Issue
	_, err := eachPage(ctx, c, "find issues by marker", markerPages, func(page int64, o ...gl.RequestOptionFunc) ([]*gl.Issue, *gl.Response, error) {
		opt.Page = page
		return c.api.Issues.ListProjectIssues(c.project, opt, o...)
	}, func(is *gl.Issue) {
		if is != nil && strings.Contains(is.Description, marker) {
			found = append(found, toIssue(is))
		}
	})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("gitlab: find issues by marker: %w", sdesk.ErrNotFound)
	}
	return found, nil
}

// eachPage reads a GitLab list page after page, from page 1, following
// the answer's next page (https://docs.gitlab.com/api/rest/#pagination),
// at most max pages, each an idempotent call (retried as c.call does), and
// hands every item to each. It reports whether pages were left unread.
func eachPage[T any](ctx context.Context, c *Client, op string, max int, list func(page int64, o ...gl.RequestOptionFunc) ([]T, *gl.Response, error), each func(T)) (more bool, err error) {
	page := int64(1)
	for range max {
		var items []T
		var next int64
		err := c.call(ctx, op, idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
			var resp *gl.Response
			var err error
			items, resp, err = list(page, o...)
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return false, err
		}
		for _, it := range items {
			each(it)
		}
		if next == 0 {
			return false, nil
		}
		page = next
	}
	return true, nil
}

// GetIssue returns an issue of the project.
func (c *Client) GetIssue(ctx context.Context, iid int) (sdesk.Issue, error) {
	var is *gl.Issue
	err := c.call(ctx, "get issue "+strconv.Itoa(iid), idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		is, resp, err = c.api.Issues.GetIssue(c.project, int64(iid), o...)
		return resp, err
	})
	if err != nil {
		return sdesk.Issue{}, err
	}
	return toIssue(is), nil
}

func (c *Client) updateIssue(ctx context.Context, op string, iid int, opt *gl.UpdateIssueOptions) error {
	return c.call(ctx, op+" "+strconv.Itoa(iid), idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		_, resp, err := c.api.Issues.UpdateIssue(c.project, int64(iid), opt, o...)
		return resp, err
	})
}

// SetDescription replaces an issue's description. A description that
// gfm.Check refuses is not sent: the error wraps ErrUnsafeText.
func (c *Client) SetDescription(ctx context.Context, iid int, description string) error {
	if err := checkText("set description of issue "+strconv.Itoa(iid), "description", description); err != nil {
		return err
	}
	return c.updateIssue(ctx, "set description of issue", iid, &gl.UpdateIssueOptions{Description: gl.Ptr(description)})
}

// SetState closes (close=true) or reopens an issue. Closing a closed issue
// or reopening an open one succeeds.
func (c *Client) SetState(ctx context.Context, iid int, close bool) error {
	event := "reopen"
	if close {
		event = "close"
	}
	return c.updateIssue(ctx, event+" issue", iid, &gl.UpdateIssueOptions{StateEvent: gl.Ptr(event)})
}

// CreateNote adds a (non-internal) note to an issue. It is retried only
// when GitLab certainly did not receive it (see create). A body that
// gfm.Check refuses is not sent: the error wraps ErrUnsafeText.
func (c *Client) CreateNote(ctx context.Context, iid int, body string) (int, error) {
	if err := checkText("create note on issue "+strconv.Itoa(iid), "body", body); err != nil {
		return 0, err
	}
	var n *gl.Note
	err := c.call(ctx, "create note on issue "+strconv.Itoa(iid), create, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		n, resp, err = c.api.Notes.CreateIssueNote(c.project, int64(iid), &gl.CreateIssueNoteOptions{Body: gl.Ptr(body)}, o...)
		return resp, err
	})
	if err != nil {
		return 0, err
	}
	return int(n.ID), nil
}

// IssueByGlobalID looks an issue up by its global ID through GraphQL (the
// REST endpoint for that is for administrators only).
func (c *Client) IssueByGlobalID(ctx context.Context, id int) (string, string, error) {
	var out struct {
		Data struct {
			Issue *struct {
				WebURL    string `json:"webUrl"`
				Reference string `json:"reference"`
			} `json:"issue"`
		} `json:"data"`
	}
	q := gl.GraphQLQuery{
		Query:     `query($id: IssueID!) { issue(id: $id) { webUrl reference(full: true) } }`,
		Variables: map[string]any{"id": "gid://gitlab/Issue/" + strconv.Itoa(id)},
	}
	err := c.call(ctx, fmt.Sprintf("look up issue %d", id), idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		return c.api.GraphQL.Do(q, &out, o...)
	})
	if err != nil {
		return "", "", err
	}
	if out.Data.Issue == nil {
		return "", "", fmt.Errorf("gitlab: issue %d: %w", id, sdesk.ErrNotFound)
	}
	return out.Data.Issue.Reference, out.Data.Issue.WebURL, nil
}

// FindNoteByMarker returns the newest of an issue's last 100 notes whose
// body contains marker, or sdesk.ErrNotFound.
func (c *Client) FindNoteByMarker(ctx context.Context, iid int, marker string) (int, error) {
	var notes []*gl.Note
	err := c.call(ctx, fmt.Sprintf("list notes of issue %d", iid), idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		notes, resp, err = c.api.Notes.ListIssueNotes(c.project, int64(iid), &gl.ListIssueNotesOptions{
			ListOptions: gl.ListOptions{PerPage: 100},
			OrderBy:     gl.Ptr("created_at"),
			Sort:        gl.Ptr("desc"),
		}, o...)
		return resp, err
	})
	if err != nil {
		return 0, err
	}
	for _, n := range notes {
		if n != nil && strings.Contains(n.Body, marker) {
			return int(n.ID), nil
		}
	}
	return 0, fmt.Errorf("gitlab: find note %q on issue %d: %w", marker, iid, sdesk.ErrNotFound)
}

// GetNote returns one note of an issue. Internal is the note's `internal`
// field, or `confidential` as older GitLab versions call it.
func (c *Client) GetNote(ctx context.Context, iid, noteID int) (sdesk.Note, error) {
	var n *gl.Note
	err := c.call(ctx, fmt.Sprintf("get note %d of issue %d", noteID, iid), idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		n, resp, err = c.api.Notes.GetIssueNote(c.project, int64(iid), int64(noteID), o...)
		return resp, err
	})
	if err != nil {
		return sdesk.Note{}, err
	}
	// Older GitLab only sends `confidential`; newer sends both, equal.
	//lint:ignore SA1019 the deprecated field is the fallback for older GitLab
	internal := n.Internal || n.Confidential
	return sdesk.Note{
		ID:       int(n.ID),
		Body:     n.Body,
		Internal: internal,
		System:   n.System,
		Author: sdesk.Author{
			ID: int(n.Author.ID), Name: n.Author.Name, Username: n.Author.Username, AvatarURL: n.Author.AvatarURL,
		},
	}, nil
}

// CurrentUserID returns the ID of the token's user. The first success is
// cached; concurrent first calls share one request.
func (c *Client) CurrentUserID(ctx context.Context) (int, error) {
	select {
	case <-c.userOK:
		return c.userID, nil
	default:
	}
	select {
	case c.userSem <- struct{}{}:
	case <-c.userOK:
		return c.userID, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("gitlab: current user: %w", ctx.Err())
	}
	defer func() { <-c.userSem }()
	select {
	case <-c.userOK:
		return c.userID, nil
	default:
	}
	var u *gl.User
	err := c.call(ctx, "current user", idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		u, resp, err = c.api.Users.CurrentUser(o...)
		return resp, err
	})
	if err != nil {
		return 0, err
	}
	if u.ID <= 0 {
		return 0, errors.New("gitlab: current user: no id in answer")
	}
	c.userID = int(u.ID)
	close(c.userOK)
	return c.userID, nil
}

// DownloadUpload fetches /uploads/<secret>/<filename> of the project
// through the API (the plain URL needs a browser login on private
// projects). Files over MaxUploadSize fail with ErrTooLarge without being
// read whole. ContentType is the server's, or sniffed when it sends none or
// only application/octet-stream.
func (c *Client) DownloadUpload(ctx context.Context, secret, filename string) (sdesk.File, error) {
	if secret == "" || filename == "" {
		return sdesk.File{}, errors.New("gitlab: download upload: empty secret or filename")
	}
	var data []byte
	var header http.Header
	lctx := context.WithValue(ctx, limitKey{}, int64(MaxUploadSize))
	err := c.call(lctx, "download upload "+filename, idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		data, resp, err = c.files.ProjectMarkdownUploads.DownloadProjectMarkdownUploadBySecretAndFilename(c.project, secret, filename, o...)
		if resp != nil && resp.Response != nil {
			header = resp.Header
		}
		return resp, err
	})
	if err != nil {
		return sdesk.File{}, err
	}
	ct := ""
	if header != nil {
		ct = strings.TrimSpace(header.Get("Content-Type"))
	}
	if ct == "" || strings.HasPrefix(ct, "application/octet-stream") {
		ct = http.DetectContentType(data)
	}
	return sdesk.File{Name: filename, ContentType: ct, Data: data}, nil
}

// uploadsURLRe is the url of GitLab's answer to POST /projects/:id/uploads:
// "/uploads/" + the upload's secret (32 lowercase hex characters,
// SecureRandom.hex) + "/" + one path segment, the stored file name.
var uploadsURLRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/uploads/[0-9a-f]{32}/([^/]+)$`) })

// uploadSegmentRe is the file name segment of that url: the characters
// GitLab keeps in an uploaded file's name (CarrierWave's sanitize_regexp,
// /[^[:word:]\.\-\+]/, replaces every other one with "_") and
// percent-escapes. Nothing in it can end or restyle a Markdown link
// destination: no white space, parentheses, brackets, angle brackets or
// quotes.
var uploadSegmentRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:[\p{L}\p{M}\p{Nd}\p{Pc}.+\-]|%[0-9A-Fa-f]{2})+$`)
})

// UploadFile uploads f to the project's Markdown uploads (POST
// /projects/:id/uploads, multipart field "file",
// https://docs.gitlab.com/api/project_markdown_uploads/#upload-a-file), so
// that any issue of the project, confidential ones too, can link it. GitLab
// answers 201 {"id", "alt", "url", "full_path", "markdown"}; the Upload
// returned carries url as given ("/uploads/<secret>/<filename>") and
// Filename, its last segment URL-unescaped: the name GitLab stored, which
// may differ from f.Name (GitLab replaces characters outside letters,
// digits, "_", ".", "-" and "+" with "_").
//
// f.Name and f.Data must not be empty (an error, nothing sent); control
// characters and invalid UTF-8 in f.Name are sent as "_". f.ContentType is
// not sent: GitLab derives the type from the name. client-go copies the
// file into a multipart body in memory, so an upload holds it twice.
//
// An upload is safe to repeat (at worst it leaves an unreferenced upload),
// so 429, 5xx but 501 and network errors are retried like a GET. 401, 403
// and 404 are sdesk.PermanentError (404 also sdesk.ErrNotFound). 413, the
// instance's maximum attachment size (Admin area > Settings > General >
// Account and limit; 100 MB by default), is a PermanentError that wraps
// sdesk.ErrTooLarge. An answer whose url is not "/uploads/" + 32 lowercase
// hex characters + "/" + one segment of the characters above (or
// percent-escapes) whose unescaped name is printable and has no "/" or "\"
// is a PermanentError too: sdesk composes Markdown from it.
func (c *Client) UploadFile(ctx context.Context, f sdesk.File) (sdesk.Upload, error) {
	if f.Name == "" || len(f.Data) == 0 {
		return sdesk.Upload{}, errors.New("gitlab: upload file: empty file name or data")
	}
	name := strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(f.Name, "_"))
	op := fmt.Sprintf("upload file (%d bytes)", len(f.Data))
	var up *gl.ProjectMarkdownUploadedFile
	status := 0
	err := c.call(ctx, op, idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		up, resp, err = c.files.ProjectMarkdownUploads.UploadProjectMarkdown(c.project, bytes.NewReader(f.Data), name, o...)
		status = 0
		if resp != nil && resp.Response != nil {
			status = resp.StatusCode
		}
		return resp, err
	})
	if err != nil && status == http.StatusRequestEntityTooLarge {
		return sdesk.Upload{}, &sdesk.PermanentError{
			Err: fmt.Errorf("gitlab: %s: %w: %w", op, sdesk.ErrTooLarge, err),
			Fix: "the file is over GitLab's maximum attachment size (Admin area > Settings > General > Account and limit): raise it there or lower SDESK_MAX_ATTACHMENT_MB",
			Why: "the file is larger than GitLab accepts",
		}
	}
	if err != nil {
		return sdesk.Upload{}, err
	}
	if up == nil {
		return sdesk.Upload{}, sdesk.Permanent(fmt.Errorf("gitlab: %s: empty answer", op),
			"GitLab answered an upload without its JSON; check that GITLAB_URL is the GitLab instance")
	}
	filename, err := checkUploadURL(up.URL)
	if err != nil {
		return sdesk.Upload{}, sdesk.Permanent(fmt.Errorf("gitlab: %s: %w", op, err),
			"GitLab answered an upload with a url sdesk does not link; check that GITLAB_URL is the GitLab instance")
	}
	return sdesk.Upload{URL: up.URL, Filename: filename}, nil
}

// checkUploadURL returns the unescaped file name of an upload's url, or an
// error when the url is not in the form UploadFile accepts.
func checkUploadURL(u string) (string, error) {
	m := uploadsURLRe().FindStringSubmatch(u)
	if m == nil || !uploadSegmentRe().MatchString(m[1]) {
		return "", fmt.Errorf("url %q is not /uploads/<32 hex>/<file name>", u)
	}
	name, err := url.PathUnescape(m[1])
	if err != nil || name == "." || name == ".." || !utf8.ValidString(name) ||
		strings.ContainsAny(name, "/\\") || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsGraphic(r) }) {
		return "", fmt.Errorf("url %q does not name a printable file", u)
	}
	return name, nil
}

// versionTimeout bounds the one GET /version of UploadsURL, retries
// included, so that a slow answer cannot hold up a note's delivery.
const versionTimeout = 3 * time.Second

// UploadsURL returns the URL under which GitLab serves the project's
// uploads as <url>/uploads/<secret>/<filename>, without a trailing slash:
//
//   - https://gitlab.example.com/-/project/4242 (the project-ID form) on
//     GitLab 17.2 and later, where the path form returns 404 for uploads
//     made since (issue 13). The route came with
//     https://gitlab.com/gitlab-org/gitlab/-/merge_requests/151744, and
//     the uploads API's full_path has the form since 17.1
//     (https://docs.gitlab.com/api/project_markdown_uploads/);
//   - https://gitlab.example.com/acme/support (the project-path form,
//     path_with_namespace of GET /projects/:id) before 17.2.
//
// Both start with BaseURL's scheme, host and path (a relative URL root
// such as https://example.com/gitlab stays). The version is read once,
// with GET /version (https://docs.gitlab.com/api/version/, "17.5.0",
// "16.11.3-ee"), within versionTimeout, on the first call: never before.
// When it cannot be read (an error, or an answer that names no version) the
// ID form is used, as every GitLab since 17.2 serves it, and the version is
// not asked again. The first URL is kept for the client's life;
// concurrent first calls make one request of each kind. An error (the
// project could not be looked up, or ctx ended first) decides nothing: the
// next call tries again.
func (c *Client) UploadsURL(ctx context.Context) (string, error) {
	c.uploadsMu.Lock()
	defer c.uploadsMu.Unlock()
	if c.uploadsURL != "" {
		return c.uploadsURL, nil
	}
	if !c.versionRead {
		major, minor, err := c.version(ctx)
		if err != nil && ctx.Err() != nil {
			return "", fmt.Errorf("gitlab: uploads URL: %w", err)
		}
		if err != nil {
			c.log.LogAttrs(ctx, slog.LevelInfo, "gitlab: version unknown; upload links use the project-ID form",
				slog.String("error", err.Error()))
		}
		c.versionRead = true
		c.idUploads = err != nil || major > 17 || major == 17 && minor >= 2
	}
	root := c.api.BaseURL()
	root.Path = strings.TrimSuffix(strings.TrimSuffix(root.Path, "/"), "/api/v4")
	root.RawPath, root.RawQuery, root.Fragment = "", "", ""
	base := strings.TrimRight(root.String(), "/")
	if c.idUploads {
		id, err := c.ProjectID(ctx)
		if err != nil {
			return "", fmt.Errorf("gitlab: uploads URL: %w", err)
		}
		c.uploadsURL = base + "/-/project/" + strconv.Itoa(id)
		return c.uploadsURL, nil
	}
	_, path, err := c.lookupProject(ctx)
	if err != nil {
		return "", fmt.Errorf("gitlab: uploads URL: %w", err)
	}
	path = strings.Trim(path, "/")
	if path == "" {
		return "", errors.New("gitlab: uploads URL: project without path_with_namespace")
	}
	c.uploadsURL = base + "/" + (&url.URL{Path: path}).EscapedPath()
	return c.uploadsURL, nil
}

// version reads GitLab's major and minor version (GET /version).
func (c *Client) version(ctx context.Context) (major, minor int, err error) {
	vctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	var v *gl.Version
	err = c.call(vctx, "get version", idempotent, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		v, resp, err = c.api.Version.GetVersion(o...)
		return resp, err
	})
	if err != nil {
		return 0, 0, err
	}
	if v == nil {
		return 0, 0, errors.New("gitlab: get version: empty answer")
	}
	m := versionRe().FindStringSubmatch(v.Version)
	if m == nil {
		return 0, 0, fmt.Errorf("gitlab: get version: no version in %q", v.Version)
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("gitlab: get version: no version in %q", v.Version)
	}
	return major, minor, nil
}

// versionRe reads major and minor from GitLab's version string: "17.5.0",
// "17.2.0-pre", "16.11.3-ee".
var versionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*v?([0-9]{1,6})\.([0-9]{1,6})(?:[.\-+ ]|$)`) })

// limitKey marks a request context with the largest body it may read.
type limitKey struct{}

// limitTransport enforces the limit of limitKey: a larger Content-Length
// fails at once, a body that grows past it fails while read.
type limitTransport struct{ base http.RoundTripper }

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	limit, ok := req.Context().Value(limitKey{}).(int64)
	if !ok {
		return resp, nil
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%w (Content-Length %d)", ErrTooLarge, resp.ContentLength)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: limit}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// wrapped transport.
func (t *limitTransport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, ErrTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
