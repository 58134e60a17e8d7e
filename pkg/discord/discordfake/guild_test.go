package discordfake_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/discord/discordfake"
)

func TestGuildRoutes(t *testing.T) {
	fake := discordfake.New(t)
	g, bot, botRole, owner := fake.GuildID(), fake.BotUserID(), fake.BotRoleID(), fake.OwnerID()
	const ch = "500000000000000001"
	fake.SetChannel(ch, "support", 0)
	perm := func(v uint64) string { return strconv.FormatUint(v, 10) }

	// The server as a new fake has it.
	a := do(t, fake, "GET", "/guilds/"+g, nil, true)
	if a.status != 200 || a.body["id"] != g || a.body["owner_id"] != owner {
		t.Fatalf("GET guild: got %d %v", a.status, a.body)
	}
	roles, _ := a.body["roles"].([]any)
	if len(roles) != 2 {
		t.Fatalf("roles: got %v, want @everyone and the bot's", roles)
	}
	everyone, mine := roles[0].(map[string]any), roles[1].(map[string]any)
	if everyone["id"] != g || everyone["permissions"] != perm(discordfake.EveryonePermissions) {
		t.Errorf("@everyone: got %v", everyone)
	}
	if mine["id"] != botRole || mine["managed"] != true || mine["permissions"] != perm(discordfake.BotRolePermissions) ||
		fmt.Sprint(mine["tags"]) != "map[bot_id:"+bot+"]" {
		t.Errorf("bot role: got %v", mine)
	}
	if discordfake.BotRolePermissions != 360777303040 {
		t.Errorf("BotRolePermissions: got %d, want the permissions sdesk needs on the support channel, 360777303040", discordfake.BotRolePermissions)
	}
	a = do(t, fake, "GET", "/guilds/"+g+"/members/"+bot, nil, true)
	if a.status != 200 || fmt.Sprint(a.body["roles"]) != "["+botRole+"]" || a.body["communication_disabled_until"] != nil {
		t.Errorf("GET bot member: got %d %v", a.status, a.body)
	}
	a = do(t, fake, "GET", "/channels/"+ch, nil, true)
	if a.status != 200 || a.body["name"] != "support" || a.body["type"] != float64(0) || a.body["guild_id"] != g ||
		fmt.Sprint(a.body["permission_overwrites"]) != "[]" {
		t.Errorf("GET channel: got %d %v", a.status, a.body)
	}

	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	steps := []struct {
		name       string
		setup      func()
		method     string
		path       string
		auth       bool
		wantStatus int
		wantCode   float64
		check      func(a answer) bool
	}{
		{"bot token needed", nil, "GET", "/guilds/" + g, false, 401, 0, nil},
		{"another server", nil, "GET", "/guilds/500000000000000009", true, 404, 10004, nil},
		{"not a member", nil, "GET", "/guilds/" + g + "/members/500000000000000009", true, 404, 10007, nil},
		{"overwrites as strings", func() {
			fake.SetOverwrites(ch, discordfake.Overwrite{ID: g, Type: 0, Deny: discordfake.PermSendMessages},
				discordfake.Overwrite{ID: bot, Type: 1, Allow: discordfake.PermManageThreads})
		}, "GET", "/channels/" + ch, true, 200, 0, func(a answer) bool {
			return fmt.Sprint(a.body["permission_overwrites"]) ==
				"[map[allow:0 deny:2048 id:"+g+" type:0] map[allow:17179869184 deny:0 id:"+bot+" type:1]]"
		}},
		{"an @everyone overwrite denying View Channel beats the role grant", func() {
			fake.SetOverwrites(ch, discordfake.Overwrite{ID: g, Type: 0, Deny: discordfake.PermViewChannel})
		}, "GET", "/channels/" + ch, true, 403, 50001, nil},
		{"a role overwrite gives it back", func() {
			fake.SetOverwrites(ch, discordfake.Overwrite{ID: g, Type: 0, Deny: discordfake.PermViewChannel},
				discordfake.Overwrite{ID: botRole, Type: 0, Allow: discordfake.PermViewChannel})
		}, "GET", "/channels/" + ch, true, 200, 0, nil},
		{"a member overwrite takes it again", func() {
			fake.SetOverwrites(ch, discordfake.Overwrite{ID: botRole, Type: 0, Allow: discordfake.PermViewChannel},
				discordfake.Overwrite{ID: bot, Type: 1, Deny: discordfake.PermViewChannel})
		}, "GET", "/channels/" + ch, true, 403, 50001, nil},
		{"Administrator sees through overwrites", func() {
			fake.SetRole(discordfake.Role{ID: botRole, Name: "sdesk", Permissions: discordfake.PermAdministrator, Managed: true})
		}, "GET", "/channels/" + ch, true, 200, 0, nil},
		{"the owner sees everything", func() {
			fake.SetRole(discordfake.Role{ID: botRole, Name: "sdesk", Permissions: 0, Managed: true})
			fake.SetOwner(bot)
		}, "GET", "/channels/" + ch, true, 200, 0, nil},
		{"a timed-out member with another role", func() {
			fake.SetOwner(owner)
			fake.SetRole(discordfake.Role{ID: "500000000000000002", Name: "Staff", Permissions: discordfake.PermViewChannel})
			fake.SetMember(discordfake.Member{UserID: bot, Roles: []string{"500000000000000002"}, TimedOutUntil: until})
		}, "GET", "/guilds/" + g + "/members/" + bot, true, 200, 0, func(a answer) bool {
			return fmt.Sprint(a.body["roles"]) == "[500000000000000002]" && a.body["communication_disabled_until"] == "2030-01-02T03:04:05.000000+00:00"
		}},
		{"a deleted role leaves its members", func() { fake.DeleteRole("500000000000000002") }, "GET", "/guilds/" + g + "/members/" + bot, true, 200, 0,
			func(a answer) bool { return fmt.Sprint(a.body["roles"]) == "[]" }},
		{"deleted channel", func() { fake.DeleteChannel(ch) }, "GET", "/channels/" + ch, true, 404, 10003, nil},
		{"channel back as a forum", func() {
			fake.SetChannel(ch, "forum", 15)
			fake.SetOverwrites(ch)
			fake.SetMember(discordfake.Member{UserID: bot, Roles: []string{botRole}})
			fake.SetRole(discordfake.Role{ID: botRole, Name: "sdesk", Permissions: discordfake.BotRolePermissions, Managed: true})
		}, "GET", "/channels/" + ch, true, 200, 0, func(a answer) bool { return a.body["type"] == float64(15) && a.body["name"] == "forum" }},
		{"the bot left: its server is out of reach", func() { fake.RemoveMember(bot) }, "GET", "/guilds/" + g, true, 403, 50001, nil},
		{"and so are its channels", nil, "GET", "/channels/" + ch, true, 403, 50001, nil},
	}
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		a := do(t, fake, s.method, s.path, nil, s.auth)
		if a.status != s.wantStatus || (s.wantCode != 0 && a.body["code"] != s.wantCode) || (s.check != nil && !s.check(a)) {
			t.Errorf("%s: got %d %v, want %d (code %v)", s.name, a.status, a.body, s.wantStatus, s.wantCode)
		}
	}

	fake.Reset()
	if a := do(t, fake, "GET", "/guilds/"+g+"/members/"+bot, nil, true); a.status != 200 {
		t.Errorf("after Reset: the bot is a member again: got %d %v", a.status, a.body)
	}
}

func TestThreadVisibility(t *testing.T) {
	fake := discordfake.New(t)
	const parent = "500000000000000001"
	th := fake.AddThread(parent, "500000000000000003", "#1 x", 12)
	if a := do(t, fake, "GET", "/channels/"+th, nil, true); a.status != 200 || a.body["parent_id"] != parent || a.body["type"] != float64(12) {
		t.Errorf("GET thread: got %d %v", a.status, a.body)
	}
	fake.SetOverwrites(parent, discordfake.Overwrite{ID: fake.BotRoleID(), Type: 0, Deny: discordfake.PermViewChannel},
		discordfake.Overwrite{ID: fake.GuildID(), Type: 0, Deny: discordfake.PermViewChannel})
	if a := do(t, fake, "GET", "/channels/"+th, nil, true); a.status != http.StatusForbidden {
		t.Errorf("GET thread of a hidden channel: got %d %v, want 403", a.status, a.body)
	}
}

func TestApplicationAndCommands(t *testing.T) {
	fake := discordfake.New(t)
	a := do(t, fake, "GET", "/applications/@me", nil, true)
	def := fake.Application()
	if a.status != 200 || a.body["id"] != def.ID || a.body["verify_key"] != def.VerifyKey || len(def.VerifyKey) != 64 ||
		a.body["interactions_endpoint_url"] != nil || fmt.Sprint(a.body["bot"].(map[string]any)["id"]) != fake.BotUserID() {
		t.Errorf("GET /applications/@me: got %d %v (default %+v)", a.status, a.body, def)
	}
	fake.SetApplication(discordfake.Application{ID: "500000000000000010", Name: "sdesk", VerifyKey: "ab", InteractionsEndpointURL: "https://x.example/interactions"})
	a = do(t, fake, "GET", "/applications/@me", nil, true)
	if a.body["id"] != "500000000000000010" || a.body["name"] != "sdesk" || a.body["interactions_endpoint_url"] != "https://x.example/interactions" {
		t.Errorf("GET /applications/@me after SetApplication: got %v", a.body)
	}
	if a := do(t, fake, "GET", "/applications/@me", nil, false); a.status != 401 {
		t.Errorf("without token: got %d", a.status)
	}

	const app, guild = "500000000000000010", "500000000000000020"
	for _, p := range []string{"/applications/" + app + "/commands", "/applications/" + app + "/guilds/" + guild + "/commands"} {
		if a := do(t, fake, "GET", p, nil, true); a.status != 200 || a.list == nil || len(a.list) != 0 {
			t.Errorf("GET %s before any PUT: got %d %v, want []", p, a.status, a.list)
		}
	}
	put := do(t, fake, "PUT", "/applications/"+app+"/guilds/"+guild+"/commands", []map[string]any{{"name": "report", "description": "d", "type": 1}}, true)
	got := do(t, fake, "GET", "/applications/"+app+"/guilds/"+guild+"/commands", nil, true)
	if put.status != 200 || fmt.Sprint(got.list) != fmt.Sprint(put.list) {
		t.Errorf("GET after PUT: got %v, want %v", got.list, put.list)
	}
	fake.SetCommands(app, "", []map[string]any{{"name": "old", "type": 1}})
	got = do(t, fake, "GET", "/applications/"+app+"/commands", nil, true)
	if len(got.list) != 1 || got.list[0].(map[string]any)["name"] != "old" || got.list[0].(map[string]any)["id"] == "" ||
		got.list[0].(map[string]any)["application_id"] != app {
		t.Errorf("GET after SetCommands: got %v", got.list)
	}
	if c := fake.Commands(app, ""); len(c) != 1 || c[0]["name"] != "old" {
		t.Errorf("Commands after SetCommands: got %v", c)
	}
}

// A channel exists once made: GET /channels of any other ID answers 404
// code 10003 Unknown Channel, even one a test posted into (a fake from New
// takes a post into an unknown channel as a new text channel); a fake from
// Serve refuses messages and threads in an unknown channel too. sdesk
// doctor's "Discord has no channel" can then be tried against make fakes.
func TestUnknownChannels(t *testing.T) {
	const made, other, posted = "500000000000000001", "500000000000000002", "500000000000000003"
	msg := map[string]any{"content": "hello"}
	thread := map[string]any{"name": "#1 x", "type": 12}
	newFake := discordfake.New(t)
	served, err := discordfake.Serve(listen(t), discordfake.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	for _, tc := range []struct {
		name   string
		fake   *discordfake.Server
		strict bool
	}{{"New", newFake, false}, {"Serve", served, true}} {
		t.Run(tc.name, func(t *testing.T) {
			fake := tc.fake
			fake.SetChannel(made, "support", 0)
			wantMessage, wantThread := 200, 201
			if tc.strict {
				wantMessage, wantThread = 404, 404
			}
			if a := do(t, fake, "POST", "/channels/"+posted+"/messages", msg, true); a.status != wantMessage {
				t.Errorf("POST a message in an unknown channel: got %d %v, want %d", a.status, a.body, wantMessage)
			}
			if a := do(t, fake, "POST", "/channels/"+other+"/threads", thread, true); a.status != wantThread {
				t.Errorf("POST a thread in an unknown channel: got %d %v, want %d", a.status, a.body, wantThread)
			}
			for _, id := range []string{other, posted, "1"} {
				a := do(t, fake, "GET", "/channels/"+id, nil, true)
				if a.status != 404 || a.body["code"] != float64(10003) || a.body["message"] != "Unknown Channel" {
					t.Errorf("GET unknown channel %s: got %d %v, want 404 code 10003 Unknown Channel", id, a.status, a.body)
				}
			}
			if a := do(t, fake, "GET", "/channels/"+made, nil, true); a.status != 200 || a.body["name"] != "support" {
				t.Errorf("GET a channel made by SetChannel: got %d %v", a.status, a.body)
			}
			a := do(t, fake, "POST", "/channels/"+made+"/threads", thread, true)
			if a.status != 201 {
				t.Fatalf("POST a thread in a channel made: got %d %v", a.status, a.body)
			}
			id, _ := a.body["id"].(string)
			if a := do(t, fake, "POST", "/channels/"+id+"/messages", msg, true); a.status != 200 {
				t.Errorf("POST a message in a thread made through the API: got %d %v", a.status, a.body)
			}
			if a := do(t, fake, "GET", "/channels/"+id, nil, true); a.status != 200 || a.body["parent_id"] != made {
				t.Errorf("GET a thread made through the API: got %d %v", a.status, a.body)
			}
			fake.DeleteChannel(made)
			if a := do(t, fake, "GET", "/channels/"+made, nil, true); a.status != 404 || a.body["code"] != float64(10003) {
				t.Errorf("GET a deleted channel: got %d %v", a.status, a.body)
			}
		})
	}
}
