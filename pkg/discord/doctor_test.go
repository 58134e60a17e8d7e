package discord_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	disgo "github.com/disgoorg/disgo/discord"

	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
)

// The bits of Discord's permissions table
// (https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags),
// written out here rather than taken from disgo.
const (
	bitAdministrator        = 1 << 3
	bitViewChannel          = 1 << 10
	bitSendMessages         = 1 << 11
	bitEmbedLinks           = 1 << 14
	bitAttachFiles          = 1 << 15
	bitReadMessageHistory   = 1 << 16
	bitManageThreads        = 1 << 34
	bitCreatePrivateThreads = 1 << 36
	bitSendInThreads        = 1 << 38
	allBits                 = 1<<53 - 1
)

func TestInviteURL(t *testing.T) {
	// The support channel's permissions and Send Messages (1<<11) for the
	// report panel, posted in a channel of the admin's choice.
	want := "https://discord.com/oauth2/authorize?client_id=1200000000000000001&scope=bot+applications.commands&permissions=360777305088"
	if got := discord.InviteURL("1200000000000000001"); got != want {
		t.Errorf("InviteURL: got %s, want %s", got, want)
	}
	sum := bitViewChannel + bitEmbedLinks + bitAttachFiles + bitManageThreads + bitCreatePrivateThreads + bitSendInThreads
	if sum != 360777303040 || discord.NeededPermissions != disgo.Permissions(sum) {
		t.Errorf("NeededPermissions: got %d, want %d (360777303040)", discord.NeededPermissions, sum)
	}
	if discord.InvitePermissions != disgo.Permissions(sum+bitSendMessages) {
		t.Errorf("InvitePermissions: got %d, want %d", discord.InvitePermissions, sum+bitSendMessages)
	}
	got := discord.PermissionNames(discord.NeededPermissions | bitAdministrator | bitSendMessages)
	wantNames := []string{"View Channel", "Send Messages in Threads", "Create Private Threads", "Manage Threads", "Attach Files", "Embed Links"}
	if !reflect.DeepEqual(got, wantNames) {
		t.Errorf("PermissionNames: got %q, want %q", got, wantNames)
	}
	if got := discord.PermissionNames(bitAttachFiles | bitViewChannel); !reflect.DeepEqual(got, []string{"View Channel", "Attach Files"}) {
		t.Errorf("PermissionNames(view, attach): got %q", got)
	}
}

const (
	guildID = "900000000000000001" // also the @everyone role's ID
	botID   = "900000000000000002"
	ownerID = "900000000000000003"
	roleA   = "900000000000000010"
	roleB   = "900000000000000011"
	roleX   = "900000000000000012" // a role the bot does not have
)

func guild(everyone, a, b, x disgo.Permissions) discord.Guild {
	return discord.Guild{ID: guildID, OwnerID: ownerID, Roles: []discord.Role{
		{ID: guildID, Permissions: everyone}, {ID: roleA, Permissions: a}, {ID: roleB, Permissions: b}, {ID: roleX, Permissions: x},
	}}
}

func TestChannelPermissions(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	member := discord.Member{UserID: botID, RoleIDs: []string{roleA, roleB}}
	const text = bitViewChannel | bitSendMessages | bitEmbedLinks | bitAttachFiles | bitReadMessageHistory
	ow := func(id string, allow, deny disgo.Permissions) discord.Overwrite {
		return discord.Overwrite{ID: id, Allow: allow, Deny: deny}
	}
	tests := []struct {
		name   string
		g      discord.Guild
		m      discord.Member
		ows    []discord.Overwrite
		want   disgo.Permissions
		wantIn disgo.Permissions // when want is 0: bits that must be set
	}{
		{name: "roles are OR-ed", g: guild(bitViewChannel, bitEmbedLinks, bitManageThreads, bitAttachFiles), m: member,
			want: bitViewChannel | bitEmbedLinks | bitManageThreads},
		{name: "a role the server does not have grants nothing", g: guild(bitViewChannel, 0, 0, bitAttachFiles),
			m: discord.Member{UserID: botID, RoleIDs: []string{"900000000000000099"}}, want: bitViewChannel},
		{name: "@everyone overwrite: deny, then allow", g: guild(text, 0, 0, 0), m: member,
			ows:  []discord.Overwrite{ow(guildID, bitManageThreads, bitAttachFiles|bitManageThreads)},
			want: text&^bitAttachFiles | bitManageThreads},
		{name: "role overwrites after @everyone's", g: guild(text, 0, 0, 0), m: member,
			ows:  []discord.Overwrite{ow(guildID, 0, bitEmbedLinks), ow(roleA, bitEmbedLinks, 0)},
			want: text},
		{name: "one role's allow beats another role's deny", g: guild(text, 0, 0, 0), m: member,
			ows:  []discord.Overwrite{ow(roleA, 0, bitAttachFiles), ow(roleB, bitAttachFiles, 0)},
			want: text},
		{name: "overwrites of roles the member lacks do nothing", g: guild(text, 0, 0, 0), m: member,
			ows:  []discord.Overwrite{ow(roleX, 0, bitAttachFiles)},
			want: text},
		{name: "the member's overwrite comes last", g: guild(text, 0, 0, 0), m: member,
			ows:  []discord.Overwrite{ow(roleA, bitManageThreads, 0), {ID: botID, Member: true, Deny: bitManageThreads | bitEmbedLinks, Allow: bitSendInThreads}},
			want: text&^bitEmbedLinks | bitSendInThreads},
		{name: "another member's overwrite does nothing", g: guild(text, 0, 0, 0), m: member,
			ows:  []discord.Overwrite{{ID: ownerID, Member: true, Deny: text}},
			want: text},
		{name: "a role ID as member overwrite is not the role's", g: guild(text, 0, 0, 0), m: member,
			ows:  []discord.Overwrite{{ID: roleA, Member: true, Deny: bitAttachFiles}},
			want: text},
		{name: "without View Channel nothing", g: guild(text|bitManageThreads, 0, 0, 0), m: member,
			ows:  []discord.Overwrite{ow(roleB, 0, bitViewChannel)},
			want: 0},
		{name: "Administrator passes every overwrite", g: guild(0, bitAdministrator, 0, 0), m: member,
			ows:    []discord.Overwrite{ow(guildID, 0, allBits), ow(roleA, 0, allBits), {ID: botID, Member: true, Deny: allBits}},
			wantIn: discord.NeededPermissions},
		{name: "Administrator on @everyone", g: guild(bitAdministrator, 0, 0, 0), m: discord.Member{UserID: botID},
			ows:    []discord.Overwrite{ow(guildID, 0, allBits)},
			wantIn: discord.NeededPermissions},
		{name: "the owner may do everything", g: guild(0, 0, 0, 0), m: discord.Member{UserID: ownerID},
			ows:    []discord.Overwrite{{ID: ownerID, Member: true, Deny: allBits}},
			wantIn: discord.NeededPermissions},
		{name: "timed out: view and history only", g: guild(text|bitManageThreads, 0, 0, 0),
			m:    discord.Member{UserID: botID, TimedOutUntil: now.Add(time.Minute)},
			want: bitViewChannel | bitReadMessageHistory},
		{name: "a timeout that ended", g: guild(text, 0, 0, 0),
			m:    discord.Member{UserID: botID, TimedOutUntil: now.Add(-time.Minute)},
			want: text},
		{name: "an administrator is not timed out", g: guild(bitAdministrator, 0, 0, 0),
			m:      discord.Member{UserID: botID, TimedOutUntil: now.Add(time.Hour)},
			wantIn: discord.NeededPermissions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := discord.Channel{ID: "900000000000000050", GuildID: guildID, Overwrites: tt.ows}
			got := discord.ChannelPermissions(tt.g, tt.m, ch, now)
			if tt.wantIn != 0 {
				if got&tt.wantIn != tt.wantIn {
					t.Errorf("got %b, want every bit of %b", got, tt.wantIn)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %b, want %b", got, tt.want)
			}
		})
	}
}

// FuzzChannelPermissions checks ChannelPermissions bit by bit against the
// precedence Discord documents
// (https://discord.com/developers/docs/topics/permissions#permission-overwrites):
// the owner and Administrator (on @everyone or a role of the member) have
// every bit; otherwise a bit is set by the first of these that mentions
// it: the member's own overwrite (allow, else deny), the overwrites of the
// member's roles (an allow in any, else a deny in any), the @everyone
// overwrite (allow, else deny), and last the roles' permissions
// (@everyone's or any of the member's roles). Without View Channel no bit
// is set; a timed-out member keeps only View Channel and Read Message
// History.
func FuzzChannelPermissions(f *testing.F) {
	f.Add(uint64(bitViewChannel), uint64(bitAttachFiles), uint64(0), uint64(0), uint64(0), uint64(0), uint64(bitAttachFiles), uint64(0), uint64(0), uint64(0), uint64(bitAttachFiles), uint8(0b1110_0011))
	f.Add(uint64(bitViewChannel|bitManageThreads), uint64(0), uint64(bitAdministrator), uint64(0), uint64(allBits), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint8(0b0001_0010))
	f.Add(uint64(allBits), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint8(0b0000_1100))
	f.Fuzz(func(t *testing.T, everyone, r1, r2, owEveryoneAllow, owEveryoneDeny, ow1Allow, ow1Deny, ow2Allow, ow2Deny, owMemberAllow, owMemberDeny uint64, flags uint8) {
		p := func(v uint64) disgo.Permissions { return disgo.Permissions(v & allBits) }
		has1, has2, owner, timedOut := flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
		hasOwE, hasOw1, hasOw2, hasOwM := flags&16 != 0, flags&32 != 0, flags&64 != 0, flags&128 != 0

		g := discord.Guild{ID: guildID, OwnerID: ownerID, Roles: []discord.Role{
			{ID: guildID, Permissions: p(everyone)}, {ID: roleA, Permissions: p(r1)}, {ID: roleB, Permissions: p(r2)},
		}}
		now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		m := discord.Member{UserID: botID}
		if owner {
			m.UserID = ownerID
		}
		if has1 {
			m.RoleIDs = append(m.RoleIDs, roleA)
		}
		if has2 {
			m.RoleIDs = append(m.RoleIDs, roleB)
		}
		if timedOut {
			m.TimedOutUntil = now.Add(time.Hour)
		}
		var ows []discord.Overwrite
		if hasOwM {
			ows = append(ows, discord.Overwrite{ID: m.UserID, Member: true, Allow: p(owMemberAllow), Deny: p(owMemberDeny)})
		}
		if hasOw2 {
			ows = append(ows, discord.Overwrite{ID: roleB, Allow: p(ow2Allow), Deny: p(ow2Deny)})
		}
		if hasOw1 {
			ows = append(ows, discord.Overwrite{ID: roleA, Allow: p(ow1Allow), Deny: p(ow1Deny)})
		}
		if hasOwE {
			ows = append(ows, discord.Overwrite{ID: guildID, Allow: p(owEveryoneAllow), Deny: p(owEveryoneDeny)})
		}
		got := discord.ChannelPermissions(g, m, discord.Channel{GuildID: guildID, Overwrites: ows}, now)

		base := p(everyone)
		if has1 {
			base |= p(r1)
		}
		if has2 {
			base |= p(r2)
		}
		if owner || base&bitAdministrator != 0 {
			if got&allBits != allBits {
				t.Fatalf("owner or administrator: got %b, want every bit", got)
			}
			return
		}
		decide := func(b disgo.Permissions) bool {
			if hasOwM && p(owMemberAllow)&b != 0 {
				return true
			}
			if hasOwM && p(owMemberDeny)&b != 0 {
				return false
			}
			roleAllow := (has1 && hasOw1 && p(ow1Allow)&b != 0) || (has2 && hasOw2 && p(ow2Allow)&b != 0)
			roleDeny := (has1 && hasOw1 && p(ow1Deny)&b != 0) || (has2 && hasOw2 && p(ow2Deny)&b != 0)
			switch {
			case roleAllow:
				return true
			case roleDeny:
				return false
			case hasOwE && p(owEveryoneAllow)&b != 0:
				return true
			case hasOwE && p(owEveryoneDeny)&b != 0:
				return false
			}
			return base&b != 0
		}
		view := decide(bitViewChannel)
		for i := range 53 {
			b := disgo.Permissions(1) << i
			want := view && decide(b) && (!timedOut || b == bitViewChannel || b == bitReadMessageHistory)
			if (got&b != 0) != want {
				t.Fatalf("bit %d: got %v, want %v (result %b)", i, got&b != 0, want, got)
			}
		}
		if got&^allBits != 0 {
			t.Fatalf("got bits above 52: %b", got)
		}
	})
}

// byName is the command of that name in a registered list.
func byName(cmds []map[string]any, name string) map[string]any {
	for _, c := range cmds {
		if c["name"] == name {
			return c
		}
	}
	return nil
}

func TestCompareCommands(t *testing.T) {
	want := discord.Definitions()
	exact := func() []map[string]any {
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	raw := func(cmds []map[string]any) []json.RawMessage {
		out := make([]json.RawMessage, len(cmds))
		for i, c := range cmds {
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = b
		}
		return out
	}
	options := func(c map[string]any) []any { return c["options"].([]any) }
	tests := []struct {
		name   string
		change func([]map[string]any) []map[string]any
		want   []string
	}{
		{"as registered", func(c []map[string]any) []map[string]any { return c }, nil},
		{"as Discord answers: its own fields added, false and empty fields left out", func(c []map[string]any) []map[string]any {
			for i, cmd := range c {
				cmd["id"], cmd["application_id"], cmd["version"] = "1", "2", "3"
				cmd["integration_types"], cmd["nsfw"] = []any{0}, false
				if _, ok := cmd["default_member_permissions"]; !ok {
					cmd["default_member_permissions"] = nil // every member: Discord says null
				}
				if cmd["type"] == float64(3) {
					delete(cmd, "description")
				}
				if i == 1 {
					for _, o := range options(cmd) {
						if o.(map[string]any)["required"] == false {
							delete(o.(map[string]any), "required")
						}
					}
				}
			}
			for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
				c[i], c[j] = c[j], c[i] // Discord's order is not sdesk's
			}
			return c
		}, nil},
		{"one missing", func(c []map[string]any) []map[string]any { return c[1:] }, []string{"/report is not registered"}},
		{"none", func([]map[string]any) []map[string]any { return nil }, []string{
			"/report is not registered", "/reply is not registered", "/close is not registered", "/reopen is not registered",
			"/status is not registered", "/issues is not registered", "/panel is not registered", `"Send to GitLab" (message menu) is not registered`}},
		{"/panel open to every member", func(c []map[string]any) []map[string]any {
			delete(byName(c, "panel"), "default_member_permissions")
			return c
		}, []string{"/panel is registered with other default_member_permissions"}},
		{"another description", func(c []map[string]any) []map[string]any {
			c[2]["description"] = "Close it"
			return c
		}, []string{"/close is registered with other description"}},
		{"an option missing", func(c []map[string]any) []map[string]any {
			c[1]["options"] = options(c[1])[:1]
			return c
		}, []string{"/reply is registered with other options"}},
		{"options in another order", func(c []map[string]any) []map[string]any {
			o := options(c[1])
			o[1], o[2] = o[2], o[1]
			return c
		}, []string{"/reply is registered with other options"}},
		{"an option's limit changed", func(c []map[string]any) []map[string]any {
			options(c[1])[0].(map[string]any)["max_length"] = 2000
			return c
		}, []string{"/reply is registered with other options"}},
		{"an extra option", func(c []map[string]any) []map[string]any {
			c[1]["options"] = append(options(c[1]), map[string]any{"type": 11, "name": "file4", "description": "x"})
			return c
		}, []string{"/reply is registered with other options"}},
		{"contexts dropped", func(c []map[string]any) []map[string]any {
			delete(c[0], "contexts")
			return c
		}, []string{"/report is registered with other contexts"}},
		{"same name, other type", func(c []map[string]any) []map[string]any {
			byName(c, "Send to GitLab")["type"] = 2
			return c
		}, []string{`"Send to GitLab" (message menu) is not registered`, `"Send to GitLab" (user menu) is registered but is not one of sdesk's`}},
		{"an old command left", func(c []map[string]any) []map[string]any {
			return append(c, map[string]any{"name": "ticket", "description": "Old"})
		}, []string{"/ticket is registered but is not one of sdesk's"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := discord.CompareCommands(want, raw(tt.change(exact())))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// A field sdesk sends with its zero value matches one Discord leaves
	// out, not another value.
	no, yes := false, true
	for _, tt := range []struct {
		nsfw *bool
		want []string
	}{{&no, nil}, {&yes, []string{"/x is registered with other nsfw"}}} {
		defs := []disgo.ApplicationCommandCreate{disgo.SlashCommandCreate{Name: "x", Description: "d", NSFW: tt.nsfw}}
		got, err := discord.CompareCommands(defs, []json.RawMessage{json.RawMessage(`{"type":1,"name":"x","description":"d","id":"5"}`)})
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("nsfw %v, left out by Discord: got %q, %v; want %q", *tt.nsfw, got, err, tt.want)
		}
	}
	for _, bad := range []string{`"report"`, `{"type":1}`, `{"name":""}`, `[]`} {
		if _, err := discord.CompareCommands(want, []json.RawMessage{json.RawMessage(bad)}); err == nil {
			t.Errorf("CompareCommands(%s): got nil, want an error", bad)
		}
	}
}

// The doctor's reads against the fake: the shapes decode, and the errors
// carry Discord's status and code.
func TestDoctorReads(t *testing.T) {
	ctx := context.Background()
	fake := discordfake.New(t)
	c := newClient(t, fake)
	fake.SetApplication(discordfake.Application{ID: appID, Name: "sdesk", VerifyKey: strings.Repeat("0a", 32), InteractionsEndpointURL: "https://x.example/interactions"})

	u, err := c.CurrentUser(ctx)
	if err != nil || u != (discord.CurrentUser{ID: fake.BotUserID(), Username: "sdesk-fake", Bot: true}) {
		t.Errorf("CurrentUser: got %+v, %v", u, err)
	}
	a, err := c.CurrentApplication(ctx)
	if want := (discord.Application{ID: appID, Name: "sdesk", VerifyKey: strings.Repeat("0a", 32), InteractionsEndpointURL: "https://x.example/interactions"}); err != nil || a != want {
		t.Errorf("CurrentApplication: got %+v, %v; want %+v", a, err, want)
	}
	fake.SetApplication(discordfake.Application{ID: appID})
	if a, err := c.CurrentApplication(ctx); err != nil || a.InteractionsEndpointURL != "" {
		t.Errorf("CurrentApplication without endpoint: got %+v, %v", a, err)
	}

	const channelID, staff = "300000000000000001", "300000000000000002"
	fake.SetChannel(channelID, "support", 0)
	fake.SetRole(discordfake.Role{ID: staff, Name: "Staff", Permissions: discordfake.PermManageThreads})
	fake.SetOverwrites(channelID,
		discordfake.Overwrite{ID: fake.GuildID(), Type: 0, Deny: discordfake.PermSendMessages},
		discordfake.Overwrite{ID: fake.BotUserID(), Type: 1, Allow: discordfake.PermManageThreads, Deny: discordfake.PermEmbedLinks})
	ch, err := c.GetChannel(ctx, channelID)
	wantCh := discord.Channel{ID: channelID, Name: "support", GuildID: fake.GuildID(), Type: disgo.ChannelTypeGuildText, Overwrites: []discord.Overwrite{
		{ID: fake.GuildID(), Deny: bitSendMessages},
		{ID: fake.BotUserID(), Member: true, Allow: bitManageThreads, Deny: bitEmbedLinks},
	}}
	if err != nil || !reflect.DeepEqual(ch, wantCh) {
		t.Errorf("GetChannel: got %+v, %v; want %+v", ch, err, wantCh)
	}
	fake.SetChannel(channelID, "forum", 15)
	if ch, err := c.GetChannel(ctx, channelID); err != nil || ch.Type != disgo.ChannelTypeGuildForum {
		t.Errorf("GetChannel of a forum: got %+v, %v", ch, err)
	}

	g, err := c.GetGuild(ctx, fake.GuildID())
	if err != nil || g.ID != fake.GuildID() || g.OwnerID != fake.OwnerID() || g.Name != "sdesk-fake-server" {
		t.Errorf("GetGuild: got %+v, %v", g, err)
	}
	if r, ok := g.Role(staff); !ok || r != (discord.Role{ID: staff, Name: "Staff", Permissions: bitManageThreads}) {
		t.Errorf("GetGuild: role %s: got %+v, %v", staff, r, ok)
	}
	if r, ok := g.Role(fake.GuildID()); !ok || uint64(r.Permissions) != discordfake.EveryonePermissions {
		t.Errorf("GetGuild: @everyone: got %+v, %v", r, ok)
	}
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fake.SetMember(discordfake.Member{UserID: fake.BotUserID(), Roles: []string{fake.BotRoleID(), staff}, TimedOutUntil: until})
	m, err := c.GetMember(ctx, fake.GuildID(), fake.BotUserID())
	if err != nil || m.UserID != fake.BotUserID() || !reflect.DeepEqual(m.RoleIDs, []string{fake.BotRoleID(), staff}) || !m.TimedOutUntil.Equal(until) {
		t.Errorf("GetMember: got %+v, %v", m, err)
	}

	if err := c.BulkOverwriteCommands(ctx, fake.GuildID(), discord.Definitions()); err != nil {
		t.Fatal(err)
	}
	for _, guild := range []string{fake.GuildID(), ""} {
		got, err := c.RegisteredCommands(ctx, guild)
		if err != nil {
			t.Fatalf("RegisteredCommands(%q): %v", guild, err)
		}
		problems, err := discord.CompareCommands(discord.Definitions(), got)
		if err != nil {
			t.Fatal(err)
		}
		if guild != "" && len(problems) != 0 || guild == "" && len(problems) != len(discord.Commands) {
			t.Errorf("RegisteredCommands(%q) compared: got %q", guild, problems)
		}
	}

	errs := []struct {
		name         string
		call         func() error
		status, code int
	}{
		{"unknown channel", func() error {
			fake.DeleteChannel(channelID)
			_, err := c.GetChannel(ctx, channelID)
			return err
		}, 404, 10003},
		{"hidden channel", func() error {
			fake.SetChannel(channelID, "support", 0)
			fake.SetOverwrites(channelID, discordfake.Overwrite{ID: fake.BotRoleID(), Type: 0, Deny: discordfake.PermViewChannel})
			_, err := c.GetChannel(ctx, channelID)
			return err
		}, 403, 50001},
		{"other guild", func() error { _, err := c.GetGuild(ctx, "300000000000000009"); return err }, 404, 10004},
		{"not a member", func() error { _, err := c.GetMember(ctx, fake.GuildID(), "300000000000000009"); return err }, 404, 10007},
		{"bot left", func() error {
			fake.RemoveMember(fake.BotUserID())
			_, err := c.GetGuild(ctx, fake.GuildID())
			return err
		}, 403, 50001},
		{"refused token", func() error {
			_, err := newClient(t, fake, func(cfg *discord.ClientConfig) { cfg.BotToken = "wrong" }).CurrentUser(ctx)
			return err
		}, 401, 0},
	}
	for _, e := range errs {
		err := e.call()
		if discord.StatusCode(err) != e.status || discord.APICode(err) != e.code {
			t.Errorf("%s: got %v (status %d, code %d), want status %d code %d", e.name, err, discord.StatusCode(err), discord.APICode(err), e.status, e.code)
		}
	}
	if _, err := c.GetChannel(ctx, "12/34"); err == nil {
		t.Error("GetChannel(12/34): got nil, want an error (not an ID)")
	}
}
