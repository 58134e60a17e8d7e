// Package discord is sdesk's Discord adapter: a REST client implementing
// sdesk.Discord on top of discordgo (HTTP only, the gateway is never
// opened), and the interaction router.
package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"

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
	token      string
	httpClient *http.Client
	appID      string
	maxRetries int
	maxWait    time.Duration
	log        *slog.Logger
	limits     limiter

	// The bot's own user ID (BotUserID): fetched on first use, then kept.
	selfFetch chan struct{}          // held by the one goroutine fetching it
	selfID    atomic.Pointer[string] // nil until fetched
}

var _ sdesk.Discord = (*Client)(nil)

// NewClient returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	token := strings.TrimPrefix(strings.TrimSpace(cfg.BotToken), "Bot ")
	if token == "" {
		return nil, errors.New("discord: bot token is missing")
	}
	if err := checkIDs("new client: application ID", cfg.ApplicationID); err != nil {
		return nil, err
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
	rt, err := newRewriteTransport(hc.Transport, discordgo.EndpointAPI, api)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	hc.Transport = rt

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
	return &Client{token: token, httpClient: hc, appID: cfg.ApplicationID, maxRetries: retries, maxWait: maxWait, log: log,
		selfFetch: make(chan struct{}, 1)}, nil
}

// session returns a discordgo session for one call (REST only). Each call
// gets its own: discordgo's rate limiter locks a bucket per route for the
// whole request, and a goroutine waiting for that lock cannot be stopped
// by its context; the client keeps the rate-limit state itself (limiter).
func (c *Client) session() *discordgo.Session {
	s, _ := discordgo.New("Bot " + c.token) // New never fails
	s.Client = c.httpClient
	s.ShouldRetryOnRateLimit = false // the client waits for 429s itself, within the context
	s.MaxRestRetries = 0             // and retries 5xx itself
	s.StateEnabled = false
	s.LogLevel = discordgo.LogError - 1 // no log.Printf from discordgo: errors are returned, retries logged to Logger
	return s
}

// checkIDs refuses IDs that are not snowflakes (decimal digits): they are
// put into URL paths as they are.
func checkIDs(op string, ids ...string) error {
	for _, id := range ids {
		if id == "" || len(id) > 20 || strings.Trim(id, "0123456789") != "" {
			return fmt.Errorf("discord: %s: %q is not a Discord ID", op, id)
		}
	}
	return nil
}

// validToken reports whether an interaction token is safe in a URL path.
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
	const op = "get current user"
	if id := c.selfID.Load(); id != nil {
		return *id, nil
	}
	select {
	case c.selfFetch <- struct{}{}:
		defer func() { <-c.selfFetch }()
	case <-ctx.Done():
		return "", fmt.Errorf("discord: %s: %w", op, ctx.Err())
	}
	if id := c.selfID.Load(); id != nil { // fetched while this call waited
		return *id, nil
	}
	var id string
	err := c.do(ctx, call{
		op:  op,
		key: "GET /users/@me",
		fn: func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
			u, err := s.User("@me", opts...)
			if err != nil {
				return err
			}
			if u == nil {
				return errors.New("answer has no user")
			}
			id = u.ID
			return nil
		},
	})
	if err != nil {
		return "", err
	}
	if err := checkIDs(op, id); err != nil {
		return "", err
	}
	c.selfID.Store(&id)
	return id, nil
}

// CreatePrivateThread opens a private thread (type 12, not invitable,
// archived after 7 days without activity) in a text channel and returns its
// ID. The name is cut to 100 runes. An answer that is not a private thread
// under channelID is an error: sdesk posts reports only into private
// threads of its support channel.
func (c *Client) CreatePrivateThread(ctx context.Context, channelID, name string) (string, error) {
	if err := checkIDs("create thread", channelID); err != nil {
		return "", err
	}
	name, err := threadName(name)
	if err != nil {
		return "", fmt.Errorf("discord: create thread: %w", err)
	}
	var id string
	err = c.do(ctx, call{
		op:     "create thread",
		key:    "POST /channels/" + channelID + "/threads",
		create: true,
		fn: func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
			ch, err := s.ThreadStartComplex(channelID, &discordgo.ThreadStart{
				Name:                name,
				Type:                discordgo.ChannelTypeGuildPrivateThread,
				Invitable:           false,
				AutoArchiveDuration: threadArchiveMinutes,
			}, opts...)
			if err != nil {
				return err
			}
			if ch == nil || ch.ID == "" {
				return errors.New("answer has no channel ID")
			}
			if ch.Type != discordgo.ChannelTypeGuildPrivateThread || ch.ParentID != channelID {
				return fmt.Errorf("answer is channel %s of type %d under %q, not a private thread (type 12) under %s",
					ch.ID, ch.Type, ch.ParentID, channelID)
			}
			id = ch.ID
			return nil
		},
	})
	return id, err
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
	if err := checkIDs(op, guildID, channelID); err != nil {
		return "", err
	}
	if prefix == "" {
		return "", fmt.Errorf("discord: %s: empty name prefix", op)
	}
	self, err := c.BotUserID(ctx)
	if err != nil {
		return "", fmt.Errorf("discord: %s: the bot's user ID: %w", op, err)
	}
	var found string
	err = c.do(ctx, call{
		op:  op,
		key: "GET /guilds/" + guildID + "/threads/active",
		fn: func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
			list, err := s.GuildThreadsActive(guildID, opts...)
			if err != nil {
				return err
			}
			found = ""
			for _, th := range list.Threads {
				if ownThread(th, self, channelID, prefix) && (found == "" || olderID(th.ID, found)) {
					found = th.ID
				}
			}
			return nil
		},
	})
	if err != nil {
		return "", err
	}
	if found == "" {
		return "", fmt.Errorf("discord: %s %q: %w", op, prefix, sdesk.ErrNotFound)
	}
	return found, nil
}

// ownThread tells whether th is a thread sdesk's CreatePrivateThread made
// under channelID (private, created by the bot self) named with prefix.
func ownThread(th *discordgo.Channel, self, channelID, prefix string) bool {
	return th != nil && th.ID != "" &&
		th.Type == discordgo.ChannelTypeGuildPrivateThread &&
		th.ParentID == channelID &&
		th.OwnerID == self &&
		strings.HasPrefix(th.Name, prefix)
}

// olderID orders snowflakes (decimal, no leading zeros) numerically.
func olderID(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// AddThreadMember adds a user to a thread.
func (c *Client) AddThreadMember(ctx context.Context, threadID, userID string) error {
	if err := checkIDs("add thread member", threadID, userID); err != nil {
		return err
	}
	return c.do(ctx, call{
		op:  "add thread member",
		key: "PUT /channels/" + threadID + "/thread-members",
		fn: func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
			return s.ThreadMemberAdd(threadID, userID, opts...)
		},
	})
}

// SendMessage posts a message and returns its ID. Buttons are laid out in
// action rows of five. Every message carries allowed_mentions
// {"parse":[],"roles":MentionRoles}. A message Discord would refuse (see
// ErrLimit) is not sent. In a locked archived thread the error matches
// sdesk.ErrThreadArchived.
func (c *Client) SendMessage(ctx context.Context, channelID string, m sdesk.Message) (string, error) {
	const op = "send message"
	if err := checkIDs(op, channelID); err != nil {
		return "", err
	}
	if m.Content == "" && len(m.Embeds) == 0 && len(m.Buttons) == 0 && len(m.Files) == 0 {
		return "", fmt.Errorf("discord: %s: %w", op, limitErr("message is empty"))
	}
	msg, err := convert(m)
	if err != nil {
		return "", fmt.Errorf("discord: %s: %w", op, err)
	}
	var id string
	err = c.do(ctx, call{
		op:  op,
		key: "POST /channels/" + channelID + "/messages",
		fn: func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
			sent, err := sendMessage(s, channelID, &discordgo.MessageSend{
				Content:         msg.content,
				Embeds:          msg.embeds,
				Components:      msg.rows,
				Files:           msg.discordFiles(),
				AllowedMentions: msg.mentions,
			}, m.Nonce, opts...)
			if err != nil {
				return err
			}
			if sent == nil || sent.ID == "" {
				return errors.New("answer has no message ID")
			}
			id = sent.ID
			return nil
		},
	})
	return id, err
}

// sendMessage is discordgo's ChannelMessageSendComplex plus nonce and
// enforce_nonce, which v0.29.0 lacks: with them a retried create returns
// the message the first attempt made instead of posting it twice.
func sendMessage(s *discordgo.Session, channelID string, data *discordgo.MessageSend, nonce string, opts ...discordgo.RequestOption) (*discordgo.Message, error) {
	body := struct {
		*discordgo.MessageSend
		Nonce        string `json:"nonce,omitempty"`
		EnforceNonce bool   `json:"enforce_nonce,omitempty"`
	}{data, nonce, nonce != ""}
	endpoint := discordgo.EndpointChannelMessages(channelID)
	var (
		resp []byte
		err  error
	)
	if len(data.Files) > 0 {
		contentType, b, merr := discordgo.MultipartBodyWithJSON(body, data.Files)
		if merr != nil {
			return nil, merr
		}
		resp, err = s.RequestRaw("POST", endpoint, contentType, b, endpoint, 0, opts...)
	} else {
		resp, err = s.RequestWithBucketID("POST", endpoint, body, endpoint, opts...)
	}
	if err != nil {
		return nil, err
	}
	var m discordgo.Message
	if err := json.Unmarshal(resp, &m); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	return &m, nil
}

// EditMessage replaces a message's content, embeds and buttons (empty ones
// remove what the message had) and its allowed_mentions. Files are added to
// the attachments the message already has.
func (c *Client) EditMessage(ctx context.Context, channelID, messageID string, m sdesk.Message) error {
	const op = "edit message"
	if err := checkIDs(op, channelID, messageID); err != nil {
		return err
	}
	msg, err := convert(m)
	if err != nil {
		return fmt.Errorf("discord: %s: %w", op, err)
	}
	return c.do(ctx, call{
		op:  op,
		key: "PATCH /channels/" + channelID + "/messages",
		fn: func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
			_, err := s.ChannelMessageEditComplex(&discordgo.MessageEdit{
				ID:              messageID,
				Channel:         channelID,
				Content:         &msg.content,
				Embeds:          &msg.embeds,
				Components:      &msg.rows,
				AllowedMentions: msg.mentions,
				Files:           msg.discordFiles(),
				Attachments:     replaceAttachments(msg),
			}, opts...)
			return err
		},
	})
}

// EditThread renames, archives or locks a thread; nil fields are left
// alone, and an edit without any field sends nothing. A new name is cut to
// 100 runes.
func (c *Client) EditThread(ctx context.Context, threadID string, e sdesk.ThreadEdit) error {
	const op = "edit thread"
	if err := checkIDs(op, threadID); err != nil {
		return err
	}
	if e.Name == nil && e.Archived == nil && e.Locked == nil {
		return nil
	}
	edit := &discordgo.ChannelEdit{Archived: e.Archived, Locked: e.Locked}
	if e.Name != nil {
		name, err := threadName(*e.Name)
		if err != nil {
			return fmt.Errorf("discord: %s: %w", op, err)
		}
		edit.Name = name
	}
	key := "PATCH /channels/" + threadID
	if e.Name != nil {
		// Discord limits renames (two per 10 minutes) apart from other
		// edits: a rename's long 429 must not hold back an archive.
		key += " name"
	}
	return c.do(ctx, call{
		op:  op,
		key: key,
		fn: func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
			_, err := s.ChannelEdit(threadID, edit, opts...)
			return err
		},
	})
}

// EditResponse edits the original response of an interaction (PATCH
// /webhooks/{app}/{token}/messages/@original), replacing its content,
// embeds and buttons. An answer's visibility (ephemeral or not) is fixed by
// the first (deferred) response and cannot be changed by an edit.
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
		key:    "PATCH /webhooks/" + c.appID + "/" + token,
		secret: token,
		fn: func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
			_, err := s.WebhookMessageEdit(c.appID, token, "@original", &discordgo.WebhookEdit{
				Content:         &msg.content,
				Embeds:          &msg.embeds,
				Components:      &msg.rows,
				AllowedMentions: msg.mentions,
				Files:           msg.discordFiles(),
				Attachments:     replaceAttachments(msg),
			}, opts...)
			return err
		},
	})
}

// BulkOverwriteCommands replaces the application's commands: the global
// ones when guildID is empty, else those of one guild. An empty list
// removes them all.
func (c *Client) BulkOverwriteCommands(ctx context.Context, guildID string, cmds []*discordgo.ApplicationCommand) error {
	if guildID != "" {
		if err := checkIDs("overwrite commands", guildID); err != nil {
			return err
		}
	}
	if cmds == nil {
		cmds = []*discordgo.ApplicationCommand{}
	}
	return c.do(ctx, call{
		op:  "overwrite commands",
		key: "PUT /applications/" + c.appID + "/commands/" + guildID,
		fn: func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
			_, err := s.ApplicationCommandBulkOverwrite(c.appID, guildID, cmds, opts...)
			return err
		},
	})
}

// replaceAttachments: an edit that sends files replaces the message's
// attachments (an empty list keeps none of the old ones).
func replaceAttachments(m *message) *[]*discordgo.MessageAttachment {
	if len(m.files) == 0 {
		return nil
	}
	return &[]*discordgo.MessageAttachment{}
}
