// Package discord is sdesk's Discord adapter: a REST client implementing
// sdesk.Discord on disgo's rest package (HTTP only: disgo's gateway is
// never used), and the interaction router.
package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	disgo "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// DefaultAPIURL is Discord's REST API base.
const DefaultAPIURL = "https://discord.com/api/v10"

// threadArchiveMinutes is the auto-archive duration of new threads (7 days).
const threadArchiveMinutes = 10080

// ClientConfig configures a Client.
type ClientConfig struct {
	// BotToken is the bot's token, without the "Bot " prefix.
	BotToken string
	// ApplicationID is the application's ID, used for interaction
	// webhooks and commands.
	ApplicationID string
	// APIURL is the REST API base; DefaultAPIURL when empty. Any base works,
	// including one with a path prefix (a proxy or a test server):
	// https://discord.com/api/v10/channels/1 is sent to APIURL + /channels/1.
	// Errors and logs name the URLs under this base.
	APIURL string
	// HTTPClient sends the requests; its Transport is wrapped, the client
	// itself is not modified. Default: a client with a 20 s timeout.
	HTTPClient *http.Client
	// MaxRetries is the number of retries after a 429, a 5xx or a network
	// error; 0 means DefaultMaxRetries, a negative value no retries.
	MaxRetries int
	// MaxWait is the longest one call waits for a rate limit (Discord's
	// retry_after, or a bucket it announced as spent); a longer wait fails
	// the call at once with an sdesk.RateLimitedError. 0 means
	// DefaultMaxWait. No wait ever passes the context's deadline either.
	MaxWait time.Duration
	// Logger receives a warning for every retry; nil discards them.
	Logger *slog.Logger
}

// Client is a Discord REST client. It is safe for concurrent use.
type Client struct {
	// rest sends every call as rc.Do(<rest endpoint>.Compile(...)) with
	// disgo's discord types: disgo's typed APIs (rest.New) would link every
	// REST method of Discord into the Lambda bootstraps, over their 12 MB.
	rest       rest.Client
	httpClient *http.Client // the transport records each attempt (recorder)
	api        *url.URL     // the configured API base
	appID      snowflake.ID
	maxRetries int
	maxWait    time.Duration
	log        *slog.Logger
	limits     limiter

	// The bot's own user ID (BotUserID): fetched on first use, then kept.
	selfFetch chan struct{}                // held by the one goroutine fetching it
	selfID    atomic.Pointer[snowflake.ID] // nil until fetched
}

var _ sdesk.Discord = (*Client)(nil)

// userAgent is the User-Agent Discord requires of every HTTP API client,
// "DiscordBot ($url, $versionNumber)" with anything after it
// (https://discord.com/developers/docs/reference#user-agent).
var userAgent = func() string {
	version := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/disgoorg/disgo" {
				version = dep.Version
			}
		}
	}
	return "DiscordBot (https://github.com/disgoorg/disgo, " + version + ") sdesk"
}()

// NewClient returns a Client. It sends nothing: the bot's user ID is
// fetched on first need (BotUserID).
func NewClient(cfg ClientConfig) (*Client, error) {
	token := strings.TrimPrefix(strings.TrimSpace(cfg.BotToken), "Bot ")
	if token == "" {
		return nil, errors.New("discord: bot token is missing")
	}
	appID, err := parseID(cfg.ApplicationID)
	if err != nil {
		return nil, fmt.Errorf("discord: new client: application ID: %w", err)
	}
	api := strings.TrimSuffix(cfg.APIURL, "/")
	if api == "" {
		api = DefaultAPIURL
	}
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("discord: API URL %q is not an http(s) base URL", cfg.APIURL)
	}
	hc := &http.Client{Timeout: 20 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = recorder{next: next}

	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxWait := cfg.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	rc := rest.NewClient(token,
		rest.WithURL(api),
		rest.WithHTTPClient(hc),
		rest.WithRateLimiter(rest.NewNoopRateLimiter()), // do waits and retries, within the context
		rest.WithLogger(slog.New(slog.DiscardHandler)),  // disgo's debug lines hold request bodies
		rest.WithUserAgent(userAgent),
	)
	return &Client{rest: rc, httpClient: hc, api: u, appID: appID, maxRetries: retries, maxWait: maxWait, log: log,
		selfFetch: make(chan struct{}, 1)}, nil
}

// parseID parses a snowflake (decimal digits, at most 20, within uint64).
// IDs go into URL paths: nothing else is let through.
func parseID(id string) (snowflake.ID, error) {
	if id == "" || len(id) > 20 || strings.Trim(id, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a Discord ID", id)
	}
	v, err := snowflake.Parse(id)
	if err != nil {
		return 0, fmt.Errorf("%q is not a Discord ID", id)
	}
	return v, nil
}

// parseIDs parses snowflakes for op; the error names op.
func parseIDs(op string, ids ...string) ([]snowflake.ID, error) {
	out := make([]snowflake.ID, len(ids))
	for i, id := range ids {
		v, err := parseID(id)
		if err != nil {
			return nil, fmt.Errorf("discord: %s: %w", op, err)
		}
		out[i] = v
	}
	return out, nil
}

// validToken reports whether an interaction token is safe in a URL path
// (disgo puts path parameters in as they are).
func validToken(t string) bool {
	if t == "" || len(t) > 1000 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// BotUserID returns the user ID of the bot whose token the Client holds
// (GET /users/@me). It is fetched on the first call, never before (not in
// NewClient, so not during a Lambda function's init), and kept for the
// Client's life; concurrent first calls make one request, and a failed
// fetch is not kept: the next call tries again. Errors wrap the API error
// or ctx's.
func (c *Client) BotUserID(ctx context.Context) (string, error) {
	id, err := c.botUserID(ctx)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

func (c *Client) botUserID(ctx context.Context) (snowflake.ID, error) {
	const op = "get current user"
	if id := c.selfID.Load(); id != nil {
		return *id, nil
	}
	select {
	case c.selfFetch <- struct{}{}:
		defer func() { <-c.selfFetch }()
	case <-ctx.Done():
		return 0, fmt.Errorf("discord: %s: %w", op, ctx.Err())
	}
	if id := c.selfID.Load(); id != nil { // fetched while this call waited
		return *id, nil
	}
	var u disgo.User
	err := c.do(ctx, call{
		op:  op,
		key: "GET /users/@me",
		fn: func(ctx context.Context) error {
			return c.rest.Do(rest.GetCurrentUser.Compile(nil), nil, &u, rest.WithCtx(ctx))
		},
	})
	if err != nil {
		return 0, err
	}
	if u.ID == 0 {
		return 0, fmt.Errorf("discord: %s: the answer has no user ID", op)
	}
	c.selfID.Store(&u.ID)
	return u.ID, nil
}

// CreatePrivateThread opens a private thread (type 12, not invitable,
// archived after 7 days without activity) in a text channel and returns its
// ID (POST /channels/{channel}/threads,
// https://discord.com/developers/docs/resources/channel#start-thread-without-message).
// The name is cut to 100 runes. An answer that is not a private thread
// under channelID is an error: sdesk posts reports only into private
// threads of its support channel. The request is not repeated once sent,
// except after a 429.
func (c *Client) CreatePrivateThread(ctx context.Context, channelID, name string) (string, error) {
	const op = "create thread"
	ids, err := parseIDs(op, channelID)
	if err != nil {
		return "", err
	}
	name, err = threadName(name)
	if err != nil {
		return "", fmt.Errorf("discord: %s: %w", op, err)
	}
	invitable := false
	var id snowflake.ID
	err = c.do(ctx, call{
		op:     op,
		key:    "POST /channels/" + channelID + "/threads",
		create: true,
		fn: func(ctx context.Context) error {
			var th disgo.GuildThread
			err := c.rest.Do(rest.CreateThread.Compile(nil, ids[0]), disgo.GuildPrivateThreadCreate{
				Name:                name,
				AutoArchiveDuration: threadArchiveMinutes,
				Invitable:           &invitable,
			}, &th, rest.WithCtx(ctx))
			if err != nil {
				return err
			}
			if th.ID() == 0 {
				return errors.New("the answer has no channel ID")
			}
			if th.Type() != disgo.ChannelTypeGuildPrivateThread || *th.ParentID() != ids[0] {
				return fmt.Errorf("the answer is channel %s of type %d under %s, not a private thread (type 12) under %s",
					th.ID(), th.Type(), *th.ParentID(), channelID)
			}
			id = th.ID()
			return nil
		},
	})
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// FindThread returns the thread that sdesk itself opened under channelID
// with a name starting with prefix, when an earlier attempt created it but
// lost the answer; sdesk.ErrNotFound when there is none. Only a thread
// that CreatePrivateThread could have made qualifies: among the guild's
// active threads (GET /guilds/{guild}/threads/active), one that is private
// (type 12), whose parent_id is channelID and whose owner_id (its creator)
// is this bot (BotUserID, fetched once per Client). Public threads,
// threads under other channels and threads any member opened are ignored,
// whatever their name, so a member cannot have a report adopt a thread
// they made (issue 7). When several qualify, the oldest (lowest ID) is
// returned. prefix must not be empty. Errors other than ErrNotFound
// (Discord or /users/@me unreachable) mean nothing was decided.
func (c *Client) FindThread(ctx context.Context, guildID, channelID, prefix string) (string, error) {
	const op = "find thread"
	ids, err := parseIDs(op, guildID, channelID)
	if err != nil {
		return "", err
	}
	if prefix == "" {
		return "", fmt.Errorf("discord: %s: empty name prefix", op)
	}
	self, err := c.botUserID(ctx)
	if err != nil {
		return "", fmt.Errorf("discord: %s: the bot's user ID: %w", op, err)
	}
	var found snowflake.ID
	err = c.do(ctx, call{
		op:  op,
		key: "GET /guilds/" + guildID + "/threads/active",
		fn: func(ctx context.Context) error {
			var list disgo.GuildActiveThreads
			if err := c.rest.Do(rest.GetActiveGuildThreads.Compile(nil, ids[0]), nil, &list, rest.WithCtx(ctx)); err != nil {
				return err
			}
			found = 0
			for _, th := range list.Threads {
				if ownThread(th, self, ids[1], prefix) && (found == 0 || th.ID() < found) {
					found = th.ID()
				}
			}
			return nil
		},
	})
	if err != nil {
		return "", err
	}
	if found == 0 {
		return "", fmt.Errorf("discord: %s %q: %w", op, prefix, sdesk.ErrNotFound)
	}
	return found.String(), nil
}

// ownThread tells whether th is a thread sdesk's CreatePrivateThread made
// under channelID (private, created by the bot self) named with prefix.
func ownThread(th disgo.GuildThread, self, channelID snowflake.ID, prefix string) bool {
	return th.ID() != 0 &&
		th.Type() == disgo.ChannelTypeGuildPrivateThread &&
		*th.ParentID() == channelID &&
		th.OwnerID == self &&
		strings.HasPrefix(th.Name(), prefix)
}

// AddThreadMember adds a user to a thread
// (PUT /channels/{thread}/thread-members/{user}).
func (c *Client) AddThreadMember(ctx context.Context, threadID, userID string) error {
	const op = "add thread member"
	ids, err := parseIDs(op, threadID, userID)
	if err != nil {
		return err
	}
	return c.do(ctx, call{
		op:  op,
		key: "PUT /channels/" + threadID + "/thread-members",
		fn: func(ctx context.Context) error {
			return c.rest.Do(rest.AddThreadMember.Compile(nil, ids[0], ids[1]), nil, nil, rest.WithCtx(ctx))
		},
	})
}

// SendMessage posts a message and returns its ID (POST
// /channels/{channel}/messages,
// https://discord.com/developers/docs/resources/message#create-message).
// Buttons are laid out in action rows of five. Every message carries
// allowed_mentions {"parse":[],"roles":MentionRoles,"users":[]}; a Nonce
// (at most 25 characters) is sent with enforce_nonce, so a create repeated
// within a few minutes returns the first message instead of posting a
// second. A message Discord would refuse (see ErrLimit) is not sent. In a
// locked archived thread the error matches sdesk.ErrThreadArchived.
func (c *Client) SendMessage(ctx context.Context, channelID string, m sdesk.Message) (string, error) {
	const op = "send message"
	ids, err := parseIDs(op, channelID)
	if err != nil {
		return "", err
	}
	if m.Content == "" && len(m.Embeds) == 0 && len(m.Buttons) == 0 && len(m.Files) == 0 {
		return "", fmt.Errorf("discord: %s: %w", op, limitErr("message is empty"))
	}
	msg, err := convert(m)
	if err != nil {
		return "", fmt.Errorf("discord: %s: %w", op, err)
	}
	payload := disgo.MessageCreate{
		Nonce:           m.Nonce,
		EnforceNonce:    m.Nonce != "",
		Content:         msg.content,
		Embeds:          msg.embeds,
		Components:      msg.rows,
		AllowedMentions: msg.mentions,
	}
	var sent struct {
		ID snowflake.ID `json:"id"`
	}
	err = c.do(ctx, call{
		op:  op,
		key: "POST /channels/" + channelID + "/messages",
		fn: func(ctx context.Context) error {
			body, err := msg.body(payload)
			if err != nil {
				return err
			}
			// Only the ID is read from the answer: a message disgo cannot
			// decode must not fail a create that happened.
			if err := c.rest.Do(rest.CreateMessage.Compile(nil, ids[0]), body, &sent, rest.WithCtx(ctx)); err != nil {
				return err
			}
			if sent.ID == 0 {
				return errors.New("the answer has no message ID")
			}
			return nil
		},
	})
	if err != nil {
		return "", err
	}
	return sent.ID.String(), nil
}

// EditMessage replaces a message's content, embeds and buttons (empty ones
// remove what the message had) and its allowed_mentions (PATCH
// /channels/{channel}/messages/{message}). Files, when given, replace the
// message's attachments.
func (c *Client) EditMessage(ctx context.Context, channelID, messageID string, m sdesk.Message) error {
	const op = "edit message"
	ids, err := parseIDs(op, channelID, messageID)
	if err != nil {
		return err
	}
	msg, err := convert(m)
	if err != nil {
		return fmt.Errorf("discord: %s: %w", op, err)
	}
	return c.do(ctx, call{
		op:  op,
		key: "PATCH /channels/" + channelID + "/messages",
		fn: func(ctx context.Context) error {
			body, err := msg.body(msg.update())
			if err != nil {
				return err
			}
			return c.rest.Do(rest.UpdateMessage.Compile(nil, ids[0], ids[1]), body, nil, rest.WithCtx(ctx))
		},
	})
}

// update is the message as an edit: content, embeds and components always
// sent (empty lists clear them), and "attachments":[] when files are sent,
// so they replace the old attachments
// (https://discord.com/developers/docs/resources/message#edit-message).
func (m *message) update() disgo.MessageUpdate {
	u := disgo.MessageUpdate{
		Content:         &m.content,
		Embeds:          &m.embeds,
		Components:      &m.rows,
		AllowedMentions: m.mentions,
	}
	if len(m.files) > 0 {
		u.Attachments = &[]disgo.AttachmentUpdate{}
	}
	return u
}

// EditThread renames, archives or locks a thread (PATCH /channels/{thread});
// nil fields are left alone, and an edit without any field sends nothing.
// A new name is cut to 100 runes. Renames are rate-limited under a key of
// their own: Discord allows two per 10 minutes per channel, and a rename's
// long 429 must not hold back an archive.
func (c *Client) EditThread(ctx context.Context, threadID string, e sdesk.ThreadEdit) error {
	const op = "edit thread"
	ids, err := parseIDs(op, threadID)
	if err != nil {
		return err
	}
	if e.Name == nil && e.Archived == nil && e.Locked == nil {
		return nil
	}
	edit := disgo.GuildThreadUpdate{Archived: e.Archived, Locked: e.Locked}
	key := "PATCH /channels/" + threadID
	if e.Name != nil {
		name, err := threadName(*e.Name)
		if err != nil {
			return fmt.Errorf("discord: %s: %w", op, err)
		}
		edit.Name = &name
		key += " name"
	}
	return c.do(ctx, call{
		op:  op,
		key: key,
		fn: func(ctx context.Context) error {
			// The answer (the channel) is not needed: it is not decoded.
			return c.rest.Do(rest.UpdateChannel.Compile(nil, ids[0]), edit, nil, rest.WithCtx(ctx))
		},
	})
}

// EditResponse edits the original response of an interaction (PATCH
// /webhooks/{app}/{token}/messages/@original, no bot token), replacing its
// content, embeds and buttons. An answer's visibility (ephemeral or not) is
// fixed by the first (deferred) response and cannot be changed by an edit.
// The token never appears in an error's text.
func (c *Client) EditResponse(ctx context.Context, token string, m sdesk.Message) error {
	const op = "edit response"
	if !validToken(token) {
		return fmt.Errorf("discord: %s: malformed interaction token", op)
	}
	msg, err := convert(m)
	if err != nil {
		return fmt.Errorf("discord: %s: %w", op, err)
	}
	return c.do(ctx, call{
		op:     op,
		key:    "PATCH /webhooks/" + c.appID.String() + "/" + token,
		secret: token,
		fn: func(ctx context.Context) error {
			body, err := msg.body(msg.update())
			if err != nil {
				return err
			}
			return c.rest.Do(rest.UpdateInteractionResponse.Compile(nil, c.appID, token), body, nil, rest.WithCtx(ctx))
		},
	})
}

// BulkOverwriteCommands replaces the application's commands: the global
// ones when guildID is empty (PUT /applications/{app}/commands), else those
// of one guild (PUT /applications/{app}/guilds/{guild}/commands). An empty
// list removes them all.
func (c *Client) BulkOverwriteCommands(ctx context.Context, guildID string, cmds []disgo.ApplicationCommandCreate) error {
	const op = "overwrite commands"
	var guild snowflake.ID
	if guildID != "" {
		ids, err := parseIDs(op, guildID)
		if err != nil {
			return err
		}
		guild = ids[0]
	}
	if cmds == nil {
		cmds = []disgo.ApplicationCommandCreate{}
	}
	return c.do(ctx, call{
		op:  op,
		key: "PUT /applications/" + c.appID.String() + "/commands/" + guildID,
		fn: func(ctx context.Context) error {
			endpoint := rest.SetGlobalCommands.Compile(nil, c.appID)
			if guildID != "" {
				endpoint = rest.SetGuildCommands.Compile(nil, c.appID, guild)
			}
			return c.rest.Do(endpoint, cmds, nil, rest.WithCtx(ctx))
		},
	})
}
