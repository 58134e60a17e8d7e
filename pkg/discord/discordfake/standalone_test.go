package discordfake_test

import (
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/discord/discordfake"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestServe(t *testing.T) {
	l := listen(t)
	addr := l.Addr().String()
	fake, err := discordfake.Serve(l, discordfake.Identity{Token: "dev-bot-token", BotUserID: "1200000000000000009", GuildID: "1200000000000000003"})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	if got, want := fake.URL(), "http://"+addr+"/api/v10"; got != want {
		t.Errorf("URL: got %s, want %s", got, want)
	}
	if got := fake.Token(); got != "dev-bot-token" {
		t.Errorf("Token: got %q", got)
	}
	tests := []struct {
		name, path string
		auth       bool
		status     int
		field, val string
	}{
		{"the bot user has the given ID", "/users/@me", true, 200, "id", "1200000000000000009"},
		{"the server has the given ID", "/guilds/1200000000000000003", true, 200, "id", "1200000000000000003"},
		{"the token is checked", "/users/@me", false, 401, "message", "401: Unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, fake, "GET", tc.path, nil, tc.auth)
			if a.status != tc.status || a.body[tc.field] != tc.val {
				t.Errorf("GET %s: got %d %v, want %d with %s=%s", tc.path, a.status, a.body, tc.status, tc.field, tc.val)
			}
		})
	}

	fake.Close()
	fake.Close() // a second Close does nothing
	c := &http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get(fake.URL() + "/users/@me"); err == nil {
		resp.Body.Close()
		t.Errorf("after Close the fake still answers: %s", resp.Status)
	}
	// The port is free again.
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("after Close the port is still held: %v", err)
	}
	l2.Close()
}

func TestServeFreshIdentity(t *testing.T) {
	a, err := discordfake.Serve(listen(t), discordfake.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := discordfake.Serve(listen(t), discordfake.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Token() == "" || a.Token() == b.Token() {
		t.Errorf("tokens: got %q and %q, want two fresh ones", a.Token(), b.Token())
	}
	snowflake := regexp.MustCompile(`^[0-9]{1,20}$`)
	if !snowflake.MatchString(a.BotUserID()) || !snowflake.MatchString(a.GuildID()) || a.BotUserID() == a.GuildID() {
		t.Errorf("IDs: got bot user %q and guild %q, want two snowflakes", a.BotUserID(), a.GuildID())
	}
	if got := do(t, a, "GET", "/guilds/"+a.GuildID(), nil, true); got.status != 200 {
		t.Errorf("GET its guild: got %d %v", got.status, got.body)
	}
}

func TestServeRefusesMalformedIdentity(t *testing.T) {
	tests := []struct {
		name string
		id   discordfake.Identity
		want string
	}{
		{"token with a space", discordfake.Identity{Token: "Bot x"}, "bot token"},
		{"token with a line break", discordfake.Identity{Token: "x\r\nX-Evil: 1"}, "bot token"},
		{"bot user ID not digits", discordfake.Identity{BotUserID: "12a"}, "bot user ID"},
		{"guild ID too long", discordfake.Identity{GuildID: strings.Repeat("1", 21)}, "guild ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t)
			defer l.Close()
			fake, err := discordfake.Serve(l, tc.id)
			if err == nil {
				fake.Close()
				t.Fatal("got no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to name the %s", err, tc.want)
			}
		})
	}
}

func TestCloseOfNewIsIdempotent(t *testing.T) {
	fake := discordfake.New(t)
	fake.Close() // the test's cleanup closes it again
	if resp, err := http.Get(fake.URL() + "/users/@me"); err == nil {
		resp.Body.Close()
		t.Errorf("after Close the fake still answers: %s", resp.Status)
	}
}

func TestRequestsSince(t *testing.T) {
	fake := discordfake.New(t)
	for _, p := range []string{"/users/@me", "/applications/@me", "/guilds/" + fake.GuildID()} {
		do(t, fake, "GET", p, nil, true)
	}
	tests := []struct {
		n    int
		want []string
	}{
		{-1, []string{"/users/@me", "/applications/@me", "/guilds/" + fake.GuildID()}},
		{0, []string{"/users/@me", "/applications/@me", "/guilds/" + fake.GuildID()}},
		{2, []string{"/guilds/" + fake.GuildID()}},
		{3, nil},
		{9, nil},
	}
	for _, tc := range tests {
		var got []string
		for _, r := range fake.RequestsSince(tc.n) {
			if r.Status != 200 {
				t.Errorf("RequestsSince(%d): %s has status %d", tc.n, r.Path, r.Status)
			}
			got = append(got, r.Path)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("RequestsSince(%d): got %v, want %v", tc.n, got, tc.want)
		}
	}
}
