package discordfake

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The server the fake's channels belong to (GuildID), with what `sdesk
// doctor` reads of it: its roles, its members, the channels' permission
// overwrites, and the bot token's application.
//
// Behaviour modelled on Discord:
//   - A new fake's server has the @everyone role (its ID is the server's)
//     with EveryonePermissions, and the bot's own role (BotRoleID), managed,
//     with BotRolePermissions, as inviting the bot with sdesk's invite URL
//     makes it; the bot is a member with that role; the owner is another
//     user.
//   - GET /guilds/{guild} answers the server with its roles, GET
//     /guilds/{guild}/members/{user} one member. Another server's ID
//     answers 404 code 10004 Unknown Guild; while the bot is not a member
//     (RemoveMember), its own server answers 403 code 50001 Missing Access
//     too; a user who is not a member answers 404 code 10007 Unknown
//     Member.
//   - GET /channels/{channel} answers the channel with its
//     permission_overwrites (a thread has its parent's). A channel the bot
//     cannot see (no View Channel, computed as Discord documents it from the
//     roles, the member and the overwrites), or any channel while the bot is
//     not a member, answers 403 code 50001 Missing Access; a deleted channel
//     (DeleteChannel), or one never made (SetChannel, AddThread, a thread),
//     404 code 10003 Unknown Channel.
//   - GET /applications/@me answers the application (SetApplication).
//   - GET /applications/{app}/commands and
//     /applications/{app}/guilds/{guild}/commands answer the commands last
//     written with PUT (or SetCommands), [] when none.
//   - Permissions and overwrites are only read: no other route checks
//     them.

// Discord error codes of the routes in this file.
const (
	codeUnknownGuild  = 10004
	codeUnknownMember = 10007
	codeMissingAccess = 50001
)

// Permission bits the fake uses
// (https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags).
const (
	PermCreateInstantInvite   uint64 = 1 << 0
	PermAdministrator         uint64 = 1 << 3
	PermAddReactions          uint64 = 1 << 6
	PermViewChannel           uint64 = 1 << 10
	PermSendMessages          uint64 = 1 << 11
	PermEmbedLinks            uint64 = 1 << 14
	PermAttachFiles           uint64 = 1 << 15
	PermReadMessageHistory    uint64 = 1 << 16
	PermChangeNickname        uint64 = 1 << 26
	PermUseApplicationCmds    uint64 = 1 << 31
	PermManageThreads         uint64 = 1 << 34
	PermCreatePublicThreads   uint64 = 1 << 35
	PermCreatePrivateThreads  uint64 = 1 << 36
	PermSendMessagesInThreads uint64 = 1 << 38
)

// EveryonePermissions are the @everyone role's permissions in a new fake:
// about what a new Discord server gives everyone for text channels.
const EveryonePermissions = PermCreateInstantInvite | PermAddReactions | PermViewChannel | PermSendMessages |
	PermEmbedLinks | PermAttachFiles | PermReadMessageHistory | PermChangeNickname | PermUseApplicationCmds |
	PermCreatePublicThreads | PermCreatePrivateThreads | PermSendMessagesInThreads

// BotRolePermissions are the bot role's permissions in a new fake: those
// of sdesk's invite URL (View Channel, Embed Links, Attach Files, Manage
// Threads, Create Private Threads, Send Messages in Threads).
const BotRolePermissions = PermViewChannel | PermEmbedLinks | PermAttachFiles | PermManageThreads |
	PermCreatePrivateThreads | PermSendMessagesInThreads

// Role is a role of the fake's server.
type Role struct {
	ID          string
	Name        string
	Permissions uint64
	Managed     bool // a bot's own role
}

// Member is a member of the fake's server.
type Member struct {
	UserID string
	Roles  []string // role IDs, without @everyone
	// TimedOutUntil, when not zero, is sent as communication_disabled_until.
	TimedOutUntil time.Time
}

// Overwrite is a channel's permission overwrite: Type 0 for a role (the
// @everyone role's ID is the server's), 1 for a member.
type Overwrite struct {
	ID          string
	Type        int
	Allow, Deny uint64
}

// Application is the bot token's application (GET /applications/@me).
type Application struct {
	ID   string
	Name string
	// VerifyKey is the application's public key, hex.
	VerifyKey string
	// InteractionsEndpointURL is "" when not set (answered as null).
	InteractionsEndpointURL string
}

// guildState is the server; the zero value is set up on first use
// (Server.guildState).
type guildState struct {
	ready      bool
	name       string
	owner      string
	botRole    string
	roles      []Role             // in creation order; roles[0] is @everyone
	members    map[string]*Member // by user ID
	overwrites map[string][]Overwrite
	deleted    map[string]bool // channel IDs
	app        Application
}

// guildState returns the server's state, set up on first use; s.mu is
// held.
func (s *Server) guildState() *guildState {
	g := &s.guild
	if g.ready {
		return g
	}
	g.ready = true
	g.name = "sdesk-fake-server"
	g.owner = s.newID()
	g.botRole = s.newID()
	g.roles = []Role{
		{ID: s.guildID, Name: "@everyone", Permissions: EveryonePermissions},
		{ID: g.botRole, Name: "sdesk-fake", Permissions: BotRolePermissions, Managed: true},
	}
	g.members = map[string]*Member{
		s.botID: {UserID: s.botID, Roles: []string{g.botRole}},
		g.owner: {UserID: g.owner},
	}
	g.overwrites = map[string][]Overwrite{}
	g.deleted = map[string]bool{}
	g.app = Application{ID: s.newID(), Name: "sdesk-fake", VerifyKey: randHex(32)}
	return g
}

// SetApplication sets what GET /applications/@me answers. A new fake has
// an application with a fresh ID, a random key and no interactions
// endpoint URL.
func (s *Server) SetApplication(a Application) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guildState().app = a
}

// Application returns what GET /applications/@me answers.
func (s *Server) Application() Application {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.guildState().app
}

// BotRoleID returns the ID of the bot's own role.
func (s *Server) BotRoleID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.guildState().botRole
}

// OwnerID returns the server owner's user ID.
func (s *Server) OwnerID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.guildState().owner
}

// SetOwner makes userID the server's owner.
func (s *Server) SetOwner(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guildState().owner = userID
}

// SetRole adds a role, or replaces the role with the same ID (the
// @everyone role's ID is GuildID).
func (s *Server) SetRole(r Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guildState()
	for i := range g.roles {
		if g.roles[i].ID == r.ID {
			g.roles[i] = r
			return
		}
	}
	g.roles = append(g.roles, r)
}

// DeleteRole removes a role from the server and from its members.
func (s *Server) DeleteRole(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guildState()
	g.roles = slices.DeleteFunc(g.roles, func(r Role) bool { return r.ID == id })
	for _, m := range g.members {
		m.Roles = slices.DeleteFunc(m.Roles, func(r string) bool { return r == id })
	}
}

// SetMember adds a member, or replaces the member with the same user ID
// (the bot is BotUserID).
func (s *Server) SetMember(m Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.Roles = slices.Clone(m.Roles)
	s.guildState().members[m.UserID] = &m
}

// RemoveMember removes a member; removing the bot (BotUserID) is the bot
// leaving the server.
func (s *Server) RemoveMember(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.guildState().members, userID)
}

// SetChannel creates a channel, or changes an existing one's name and type
// (0 text, 2 voice, 4 category, 5 announcement, 13 stage, 15 forum, 16
// media). A deleted channel exists again.
func (s *Server) SetChannel(id, name string, typ int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.guildState().deleted, id)
	c := s.textChannel(id)
	c.name, c.typ, c.known = name, typ, true
}

// DeleteChannel deletes a channel: GET /channels/{id} answers 404 Unknown
// Channel until SetChannel creates it again. On a fake from New, routes
// that take an unknown channel as a new text channel (posting a message,
// starting a thread) still do.
func (s *Server) DeleteChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.channels, id)
	s.guildState().deleted[id] = true
}

// SetOverwrites replaces a channel's permission overwrites.
func (s *Server) SetOverwrites(channelID string, ows ...Overwrite) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guildState().overwrites[channelID] = slices.Clone(ows)
}

// SetCommands sets the commands registered for an application in a server
// (or globally, for guildID ""), as a PUT would have left them, each
// given an ID. Tests use it to register an older version of the commands.
func (s *Server) SetCommands(appID, guildID string, cmds []map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, len(cmds))
	for i, c := range cmds {
		out[i] = map[string]any{"id": s.newID(), "application_id": appID, "version": s.newID()}
		for k, v := range c {
			out[i][k] = v
		}
		if guildID != "" {
			out[i]["guild_id"] = guildID
		}
	}
	s.commands[appID+"/"+guildID] = out
}

// canView tells whether a member sees a channel (View Channel), computed
// as https://discord.com/developers/docs/topics/permissions#permission-overwrites
// describes it; a thread is seen through its parent.
func (s *Server) canView(g *guildState, m *Member, channelID string) bool {
	if c, ok := s.channels[channelID]; ok && isThread(c) {
		channelID = c.threadOf
	}
	if m.UserID == g.owner {
		return true
	}
	var perms uint64
	for _, r := range g.roles {
		if r.ID == s.guildID || slices.Contains(m.Roles, r.ID) {
			perms |= r.Permissions
		}
	}
	if perms&PermAdministrator != 0 {
		return true
	}
	ows := g.overwrites[channelID]
	for _, o := range ows {
		if o.Type == 0 && o.ID == s.guildID {
			perms = perms&^o.Deny | o.Allow
		}
	}
	var allow, deny uint64
	for _, o := range ows {
		if o.Type == 0 && o.ID != s.guildID && slices.Contains(m.Roles, o.ID) {
			allow, deny = allow|o.Allow, deny|o.Deny
		}
	}
	perms = perms&^deny | allow
	for _, o := range ows {
		if o.Type == 1 && o.ID == m.UserID {
			perms = perms&^o.Deny | o.Allow
		}
	}
	return perms&PermViewChannel != 0
}

func missingAccess() (int, any) {
	return errAnswer(http.StatusForbidden, codeMissingAccess, "Missing Access")
}

// getChannel answers GET /channels/{channel}.
func (s *Server) getChannel(_ *Request, p params) (int, any) {
	g := s.guildState()
	id := p["channel"]
	c, ok := s.channels[id]
	if g.deleted[id] || !ok || !c.known {
		return unknownChannel()
	}
	bot, ok := g.members[s.botID]
	if !ok || !s.canView(g, bot, id) {
		return missingAccess()
	}
	out := s.channelJSON(c)
	owID := id
	if isThread(c) {
		owID = c.threadOf
	} else {
		out["parent_id"] = nil
		out["position"] = 0
		out["nsfw"] = false
		out["topic"] = nil
		out["rate_limit_per_user"] = 0
	}
	ows := []map[string]any{}
	for _, o := range g.overwrites[owID] {
		ows = append(ows, map[string]any{
			"id": o.ID, "type": o.Type,
			"allow": strconv.FormatUint(o.Allow, 10), "deny": strconv.FormatUint(o.Deny, 10),
		})
	}
	out["permission_overwrites"] = ows
	return http.StatusOK, out
}

// guildAccess answers for a route under /guilds/{guild}: the server's
// state, or the error Discord answers.
func (s *Server) guildAccess(guildID string) (*guildState, int, any) {
	g := s.guildState()
	if guildID != s.guildID {
		st, ans := errAnswer(http.StatusNotFound, codeUnknownGuild, "Unknown Guild")
		return nil, st, ans
	}
	if _, ok := g.members[s.botID]; !ok {
		st, ans := missingAccess()
		return nil, st, ans
	}
	return g, 0, nil
}

// getGuild answers GET /guilds/{guild}.
func (s *Server) getGuild(_ *Request, p params) (int, any) {
	g, st, ans := s.guildAccess(p["guild"])
	if g == nil {
		return st, ans
	}
	roles := make([]map[string]any, 0, len(g.roles))
	for i, r := range g.roles {
		role := map[string]any{
			"id": r.ID, "name": r.Name, "color": 0, "colors": map[string]any{"primary_color": 0},
			"hoist": false, "icon": nil, "unicode_emoji": nil, "position": i,
			"permissions": strconv.FormatUint(r.Permissions, 10), "managed": r.Managed,
			"mentionable": false, "flags": 0,
		}
		if r.Managed {
			role["tags"] = map[string]any{"bot_id": s.botID}
		}
		roles = append(roles, role)
	}
	return http.StatusOK, map[string]any{
		"id": s.guildID, "name": g.name, "icon": nil, "splash": nil, "owner_id": g.owner,
		"afk_channel_id": nil, "afk_timeout": 300, "verification_level": 0,
		"default_message_notifications": 1, "explicit_content_filter": 0,
		"roles": roles, "emojis": []any{}, "features": []any{}, "mfa_level": 0,
		"system_channel_id": nil, "system_channel_flags": 0, "rules_channel_id": nil,
		"premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0,
		"premium_progress_bar_enabled": false, "stickers": []any{},
	}
}

// getMember answers GET /guilds/{guild}/members/{user}.
func (s *Server) getMember(_ *Request, p params) (int, any) {
	g, st, ans := s.guildAccess(p["guild"])
	if g == nil {
		return st, ans
	}
	m, ok := g.members[p["user"]]
	if !ok {
		return errAnswer(http.StatusNotFound, codeUnknownMember, "Unknown Member")
	}
	user := map[string]any{"id": m.UserID, "username": "user-" + m.UserID, "discriminator": "0", "global_name": nil, "avatar": nil}
	if m.UserID == s.botID {
		user = s.botUserJSON()
	}
	var until any
	if !m.TimedOutUntil.IsZero() {
		until = timestamp(m.TimedOutUntil)
	}
	return http.StatusOK, map[string]any{
		"user": user, "nick": nil, "avatar": nil, "roles": slices.Clone(m.Roles),
		"joined_at": timestamp(time.Unix(1700000000, 0)), "deaf": false, "mute": false, "flags": 0,
		"pending": false, "communication_disabled_until": until,
	}
}

// currentApplication answers GET /applications/@me.
func (s *Server) currentApplication(_ *Request, _ params) (int, any) {
	a := s.guildState().app
	var endpoint any
	if a.InteractionsEndpointURL != "" {
		endpoint = a.InteractionsEndpointURL
	}
	return http.StatusOK, map[string]any{
		"id": a.ID, "name": a.Name, "icon": nil, "description": "", "bot_public": true,
		"bot_require_code_grant": false, "verify_key": a.VerifyKey, "flags": 0,
		"bot": s.botUserJSON(), "interactions_endpoint_url": endpoint, "tags": []any{},
	}
}

// listCommands answers GET /applications/{app}/commands and
// /applications/{app}/guilds/{guild}/commands.
func (s *Server) listCommands(_ *Request, p params) (int, any) {
	cmds := s.commands[p["app"]+"/"+p["guild"]]
	if cmds == nil {
		return http.StatusOK, []any{}
	}
	return http.StatusOK, cmds
}
