package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"

	disgo "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"
)

// This file holds the reads `sdesk doctor` makes to check a setup: who the
// bot token belongs to, the support channel, its server's roles and the
// bot's member, the registered commands; and the rules it checks them
// with: the permissions sdesk needs on the support channel, Discord's
// permission computation, the invite URL.

// NeededPermissions are the permissions sdesk needs on the support channel
// (https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags):
// View Channel (1<<10, to see the channel and its threads), Embed Links
// (1<<14, the report embed), Attach Files (1<<15, the report's files),
// Manage Threads (1<<34, to lock, unlock and archive threads), Create
// Private Threads (1<<36) and Send Messages in Threads (1<<38, every
// message sdesk posts is in a thread). Their sum is 360777303040.
const NeededPermissions = disgo.PermissionViewChannel |
	disgo.PermissionEmbedLinks |
	disgo.PermissionAttachFiles |
	disgo.PermissionManageThreads |
	disgo.PermissionCreatePrivateThreads |
	disgo.PermissionSendMessagesInThreads

// neededNames names NeededPermissions as Discord's own client does, in the
// order PermissionNames lists them.
var neededNames = []struct {
	bit  disgo.Permissions
	name string
}{
	{disgo.PermissionViewChannel, "View Channel"},
	{disgo.PermissionSendMessagesInThreads, "Send Messages in Threads"},
	{disgo.PermissionCreatePrivateThreads, "Create Private Threads"},
	{disgo.PermissionManageThreads, "Manage Threads"},
	{disgo.PermissionAttachFiles, "Attach Files"},
	{disgo.PermissionEmbedLinks, "Embed Links"},
}

// PermissionNames names the bits of p that are among NeededPermissions
// ("View Channel", "Send Messages in Threads", ...), in a fixed order;
// other bits are left out.
func PermissionNames(p disgo.Permissions) []string {
	var out []string
	for _, n := range neededNames {
		if p&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// InvitePermissions are the permissions the invite URL asks for:
// NeededPermissions, and Send Messages (1<<11) for the report panel, which
// /panel and `sdesk panel post` post in a channel of the admin's choice.
// Their sum is 360777305088.
const InvitePermissions = NeededPermissions | disgo.PermissionSendMessages

// InviteURL is the URL that adds the bot of application appID (a snowflake)
// to a server with the bot and applications.commands scopes and exactly
// InvitePermissions
// (https://discord.com/developers/docs/topics/oauth2#bot-authorization-flow).
func InviteURL(appID string) string {
	return "https://discord.com/oauth2/authorize?client_id=" + appID +
		"&scope=bot+applications.commands&permissions=" + strconv.FormatInt(int64(InvitePermissions), 10)
}

// CurrentUser is the user a bot token belongs to.
type CurrentUser struct {
	ID       string
	Username string
	Bot      bool // false: the token is a user's, not a bot's
}

// CurrentUser returns the user the bot token belongs to (GET /users/@me,
// https://discord.com/developers/docs/resources/user#get-current-user). A
// refused token gives a 401 (StatusCode).
func (c *Client) CurrentUser(ctx context.Context) (CurrentUser, error) {
	var u disgo.User
	err := c.do(ctx, call{
		op:  "get current user",
		key: "GET /users/@me",
		fn: func(ctx context.Context) error {
			return c.rest.Do(rest.GetCurrentUser.Compile(nil), nil, &u, rest.WithCtx(ctx))
		},
	})
	if err != nil {
		return CurrentUser{}, err
	}
	if u.ID == 0 {
		return CurrentUser{}, fmt.Errorf("discord: get current user: the answer has no user ID")
	}
	return CurrentUser{ID: u.ID.String(), Username: u.Username, Bot: u.Bot}, nil
}

// Application is what Discord says of the bot token's application.
type Application struct {
	ID   string
	Name string
	// VerifyKey is the application's public key, hex, as the developer
	// portal shows it: the key DISCORD_PUBLIC_KEY must hold.
	VerifyKey string
	// InteractionsEndpointURL is the portal's "Interactions Endpoint URL";
	// empty when it is not set (Discord then sends no interaction).
	InteractionsEndpointURL string
}

// CurrentApplication returns the application of the bot token (GET
// /applications/@me,
// https://discord.com/developers/docs/resources/application#get-current-application).
func (c *Client) CurrentApplication(ctx context.Context) (Application, error) {
	var a disgo.Application
	err := c.do(ctx, call{
		op:  "get current application",
		key: "GET /applications/@me",
		fn: func(ctx context.Context) error {
			return c.rest.Do(rest.GetCurrentApplication.Compile(nil), nil, &a, rest.WithCtx(ctx))
		},
	})
	if err != nil {
		return Application{}, err
	}
	if a.ID == 0 {
		return Application{}, fmt.Errorf("discord: get current application: the answer has no application ID")
	}
	out := Application{ID: a.ID.String(), Name: a.Name, VerifyKey: a.VerifyKey}
	if a.InteractionsEndpointURL != nil {
		out.InteractionsEndpointURL = *a.InteractionsEndpointURL
	}
	return out, nil
}

// Overwrite is a channel's permission overwrite for a role (the @everyone
// role's ID is the server's) or, when Member is true, for one member.
type Overwrite struct {
	ID          string
	Member      bool
	Allow, Deny disgo.Permissions
}

// Channel is a channel as the doctor checks it.
type Channel struct {
	ID      string
	Name    string
	GuildID string // empty for a DM
	// Type is Discord's channel type: 0 text, 2 voice, 4 category, 5
	// announcement, 10-12 threads, 13 stage, 15 forum, 16 media
	// (https://discord.com/developers/docs/resources/channel#channel-object-channel-types).
	Type       disgo.ChannelType
	Overwrites []Overwrite
}

// GetChannel returns a channel with its permission overwrites (GET
// /channels/{channel},
// https://discord.com/developers/docs/resources/channel#get-channel).
// Discord answers 404 (code 10003) for a channel that does not exist and
// 403 (code 50001, Missing Access) for one the bot cannot see: StatusCode
// and APICode tell them apart.
func (c *Client) GetChannel(ctx context.Context, channelID string) (Channel, error) {
	const op = "get channel"
	ids, err := parseIDs(op, channelID)
	if err != nil {
		return Channel{}, err
	}
	// Decoded by hand, not as a disgo.Channel: that refuses channel types
	// disgo does not know, and the doctor must name any type.
	var ch struct {
		ID                   snowflake.ID      `json:"id"`
		Type                 disgo.ChannelType `json:"type"`
		Name                 string            `json:"name"`
		GuildID              snowflake.ID      `json:"guild_id"`
		PermissionOverwrites []struct {
			ID    snowflake.ID                  `json:"id"`
			Type  disgo.PermissionOverwriteType `json:"type"`
			Allow disgo.Permissions             `json:"allow"`
			Deny  disgo.Permissions             `json:"deny"`
		} `json:"permission_overwrites"`
	}
	err = c.do(ctx, call{
		op:  op,
		key: "GET /channels/" + channelID,
		fn: func(ctx context.Context) error {
			return c.rest.Do(rest.GetChannel.Compile(nil, ids[0]), nil, &ch, rest.WithCtx(ctx))
		},
	})
	if err != nil {
		return Channel{}, err
	}
	if ch.ID != ids[0] {
		return Channel{}, fmt.Errorf("discord: %s %s: the answer is channel %s", op, channelID, ch.ID)
	}
	out := Channel{ID: ch.ID.String(), Name: ch.Name, Type: ch.Type}
	if ch.GuildID != 0 {
		out.GuildID = ch.GuildID.String()
	}
	for _, o := range ch.PermissionOverwrites {
		out.Overwrites = append(out.Overwrites, Overwrite{
			ID: o.ID.String(), Member: o.Type == disgo.PermissionOverwriteTypeMember, Allow: o.Allow, Deny: o.Deny,
		})
	}
	return out, nil
}

// Role is a server role.
type Role struct {
	ID          string
	Name        string
	Permissions disgo.Permissions
}

// Guild is a server with its roles.
type Guild struct {
	ID      string
	Name    string
	OwnerID string // the owner has every permission
	Roles   []Role // the @everyone role has the server's ID
}

// Role returns the server's role with this ID.
func (g Guild) Role(id string) (Role, bool) {
	for _, r := range g.Roles {
		if r.ID == id {
			return r, true
		}
	}
	return Role{}, false
}

// GetGuild returns a server with its roles (GET /guilds/{guild},
// https://discord.com/developers/docs/resources/guild#get-guild). A server
// the bot is not in answers 403 (code 50001) or 404 (code 10004).
func (c *Client) GetGuild(ctx context.Context, guildID string) (Guild, error) {
	const op = "get guild"
	ids, err := parseIDs(op, guildID)
	if err != nil {
		return Guild{}, err
	}
	var g struct {
		ID      snowflake.ID `json:"id"`
		Name    string       `json:"name"`
		OwnerID snowflake.ID `json:"owner_id"`
		Roles   []disgo.Role `json:"roles"`
	}
	err = c.do(ctx, call{
		op:  op,
		key: "GET /guilds/" + guildID,
		fn: func(ctx context.Context) error {
			return c.rest.Do(rest.GetGuild.Compile(nil, ids[0]), nil, &g, rest.WithCtx(ctx))
		},
	})
	if err != nil {
		return Guild{}, err
	}
	if g.ID != ids[0] {
		return Guild{}, fmt.Errorf("discord: %s %s: the answer is guild %s", op, guildID, g.ID)
	}
	out := Guild{ID: g.ID.String(), Name: g.Name, OwnerID: g.OwnerID.String()}
	for _, r := range g.Roles {
		out.Roles = append(out.Roles, Role{ID: r.ID.String(), Name: r.Name, Permissions: r.Permissions})
	}
	return out, nil
}

// Member is a server member: its roles and its timeout.
type Member struct {
	UserID  string
	RoleIDs []string // without the @everyone role, as Discord sends them
	// TimedOutUntil is communication_disabled_until, zero when none.
	TimedOutUntil time.Time
}

// GetMember returns a member of a server (GET
// /guilds/{guild}/members/{user},
// https://discord.com/developers/docs/resources/guild#get-guild-member);
// 404 (code 10007) when the user is not a member.
func (c *Client) GetMember(ctx context.Context, guildID, userID string) (Member, error) {
	const op = "get member"
	ids, err := parseIDs(op, guildID, userID)
	if err != nil {
		return Member{}, err
	}
	var m disgo.Member
	err = c.do(ctx, call{
		op:  op,
		key: "GET /guilds/" + guildID + "/members",
		fn: func(ctx context.Context) error {
			return c.rest.Do(rest.GetMember.Compile(nil, ids[0], ids[1]), nil, &m, rest.WithCtx(ctx))
		},
	})
	if err != nil {
		return Member{}, err
	}
	if m.User.ID != ids[1] {
		return Member{}, fmt.Errorf("discord: %s %s: the answer is user %s", op, userID, m.User.ID)
	}
	out := Member{UserID: m.User.ID.String()}
	for _, r := range m.RoleIDs {
		out.RoleIDs = append(out.RoleIDs, r.String())
	}
	if m.CommunicationDisabledUntil != nil {
		out.TimedOutUntil = *m.CommunicationDisabledUntil
	}
	return out, nil
}

// ChannelPermissions computes what member m of server g may do in channel
// ch at time now, as Discord documents it
// (https://discord.com/developers/docs/topics/permissions#permission-overwrites):
// the owner may do everything; else the @everyone role's permissions and
// those of m's roles are OR-ed, and Administrator among them grants
// everything; else the channel's overwrites apply in this order: the
// @everyone overwrite (deny, then allow), the overwrites of m's roles
// together (all their denies, then all their allows), m's own overwrite
// (deny, then allow). Then the documented implicit rules: without View
// Channel nothing else applies in the channel
// (https://discord.com/developers/docs/topics/permissions#implicit-permissions),
// and a member timed out past now keeps only View Channel and Read Message
// History
// (https://discord.com/developers/docs/topics/permissions#permissions-for-timed-out-members).
// Roles of m that g does not have grant nothing.
func ChannelPermissions(g Guild, m Member, ch Channel, now time.Time) disgo.Permissions {
	const all = disgo.Permissions(math.MaxInt64)
	if g.OwnerID != "" && m.UserID == g.OwnerID {
		return all
	}
	has := map[string]bool{}
	for _, id := range m.RoleIDs {
		has[id] = true
	}
	var perms disgo.Permissions
	for _, r := range g.Roles {
		if r.ID == g.ID || has[r.ID] {
			perms |= r.Permissions
		}
	}
	if perms&disgo.PermissionAdministrator != 0 {
		return all
	}
	for _, o := range ch.Overwrites {
		if !o.Member && o.ID == g.ID {
			perms = perms&^o.Deny | o.Allow
		}
	}
	var allow, deny disgo.Permissions
	for _, o := range ch.Overwrites {
		if !o.Member && o.ID != g.ID && has[o.ID] {
			allow |= o.Allow
			deny |= o.Deny
		}
	}
	perms = perms&^deny | allow
	for _, o := range ch.Overwrites {
		if o.Member && o.ID == m.UserID {
			perms = perms&^o.Deny | o.Allow
		}
	}
	if perms&disgo.PermissionViewChannel == 0 {
		return 0
	}
	if m.TimedOutUntil.After(now) {
		perms &= disgo.PermissionViewChannel | disgo.PermissionReadMessageHistory
	}
	return perms
}

// RegisteredCommands returns the application's commands as Discord holds
// them, each as its JSON object: the global ones when guildID is empty
// (GET /applications/{app}/commands), else those of one server (GET
// /applications/{app}/guilds/{guild}/commands)
// (https://discord.com/developers/docs/interactions/application-commands#get-global-application-commands).
func (c *Client) RegisteredCommands(ctx context.Context, guildID string) ([]json.RawMessage, error) {
	const op = "get commands"
	endpoint := rest.GetGlobalCommands.Compile(nil, c.appID)
	if guildID != "" {
		ids, err := parseIDs(op, guildID)
		if err != nil {
			return nil, err
		}
		endpoint = rest.GetGuildCommands.Compile(nil, c.appID, ids[0])
	}
	var cmds []json.RawMessage
	err := c.do(ctx, call{
		op:  op,
		key: "GET /applications/" + c.appID.String() + "/commands/" + guildID,
		fn: func(ctx context.Context) error {
			cmds = nil
			return c.rest.Do(endpoint, nil, &cmds, rest.WithCtx(ctx))
		},
	})
	if err != nil {
		return nil, err
	}
	return cmds, nil
}

// CommandName is how a command is named to an operator: "/report" for a
// slash command, `"Send to GitLab" (message menu)` for a message command,
// `"name" (user menu)` for a user command.
func CommandName(typ int, name string) string {
	switch typ {
	case int(disgo.ApplicationCommandTypeMessage):
		return strconv.Quote(name) + " (message menu)"
	case int(disgo.ApplicationCommandTypeUser):
		return strconv.Quote(name) + " (user menu)"
	}
	return "/" + name
}

// CompareCommands tells how the registered commands (RegisteredCommands)
// differ from want (Definitions): one sentence per command sdesk has that
// is not registered, is registered differently, or is registered but not
// sdesk's; none when they match. Commands are matched by type and name; a
// registered command matches when every field sdesk sets (description,
// options with their types, names, descriptions, required flags and
// limits, contexts...) has the same value, in the same order for lists.
// Fields only Discord fills in (id, version, integration_types...) are not
// compared, and a field Discord leaves out counts as its zero value
// (false, 0, "", empty). An entry that is not a JSON object with a name is
// an error.
func CompareCommands(want []disgo.ApplicationCommandCreate, got []json.RawMessage) ([]string, error) {
	type key struct {
		typ  int
		name string
	}
	decode := func(raw []byte) (key, map[string]any, error) {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return key{}, nil, err
		}
		name, ok := m["name"].(string)
		if !ok || name == "" {
			return key{}, nil, fmt.Errorf("command without a name")
		}
		typ := 1 // CHAT_INPUT when absent
		if t, ok := m["type"].(float64); ok {
			typ = int(t)
		}
		return key{typ, name}, m, nil
	}
	registered := map[key]map[string]any{}
	var order []key
	for i, raw := range got {
		k, m, err := decode(raw)
		if err != nil {
			return nil, fmt.Errorf("discord: compare commands: registered command %d: %w", i, err)
		}
		if _, dup := registered[k]; !dup {
			order = append(order, k)
		}
		registered[k] = m
	}
	var problems []string
	seen := map[key]bool{}
	for i, w := range want {
		raw, err := json.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("discord: compare commands: command %d: %w", i, err)
		}
		k, m, err := decode(raw)
		if err != nil {
			return nil, fmt.Errorf("discord: compare commands: command %d: %w", i, err)
		}
		seen[k] = true
		r, ok := registered[k]
		if !ok {
			problems = append(problems, CommandName(k.typ, k.name)+" is not registered")
			continue
		}
		for _, f := range slices.Sorted(maps.Keys(m)) { // the first difference, the same on every run
			if !sameJSON(m[f], r[f]) {
				problems = append(problems, CommandName(k.typ, k.name)+" is registered with other "+f)
				break
			}
		}
	}
	for _, k := range order {
		if !seen[k] {
			problems = append(problems, CommandName(k.typ, k.name)+" is registered but is not one of sdesk's")
		}
	}
	return problems, nil
}

// sameJSON reports whether got holds want: objects hold every field of
// want (recursively), lists have the same length and hold want's elements
// in order, other values are equal; a missing got (nil) holds a zero want.
func sameJSON(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if got == nil {
			g, ok = map[string]any{}, true
		}
		if !ok {
			return false
		}
		for k, v := range w {
			if !sameJSON(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if got == nil {
			g, ok = nil, true
		}
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameJSON(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	if got == nil {
		return want == nil || want == false || want == float64(0) || want == ""
	}
	return reflect.DeepEqual(want, got)
}
