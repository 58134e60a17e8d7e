package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	disgo "github.com/disgoorg/disgo/discord"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// doctorTimeout bounds each network call of `sdesk doctor` (and the wait
// for the bbolt file's lock), so that a service that does not answer
// fails its check instead of hanging the command. Tests shorten it.
var doctorTimeout = 10 * time.Second

// Check results.
const (
	statusPass = "PASS"
	statusFail = "FAIL"
	statusSkip = "SKIP" // could not run: an earlier check failed
	statusHint = "HINT" // could not be checked, and that is not a failure
	statusWarn = "WARN" // worth a look, not a failure
)

// Check names, in the order doctor runs them.
const (
	checkConfig      = "config"
	checkToken       = "Discord bot token"
	checkApplication = "Discord application"
	checkPublicKey   = "Discord public key"
	checkEndpoint    = "Discord interactions endpoint"
	checkChannel     = "Discord support channel"
	checkPermissions = "Discord bot permissions"
	checkStaffRole   = "Discord staff role"
	checkCommands    = "Discord commands"
	checkGitLabToken = "GitLab token"
	checkProject     = "GitLab project"
	checkWebhook     = "GitLab webhook"
	checkStore       = "store"
)

// hookTriggersNamed are the webhook triggers sdesk needs, as GitLab's
// settings label them (gitlab.Hook.MissingTriggers).
const hookTriggersNamed = "Issues events, Confidential issues events, Comments and Confidential comments"

// result is one check's outcome: one line of doctor's output.
type result struct {
	status string
	name   string
	detail string // what was found; values from the services go through printable
	fix    string // what to do, for FAIL and HINT
}

// maxShown is the most runes of one value from a service (a name, a URL)
// doctor prints.
const maxShown = 100

// printable makes a value that came from Discord, GitLab or the file
// system safe to print on one terminal line: invalid UTF-8, control
// characters (C0, C1, DEL), format characters (Unicode Cf: bidirectional
// overrides, zero-width characters) and line or paragraph separators
// become U+FFFD, and it is cut to maxShown runes with "…" after it. A
// value of at most maxShown runes without such characters is returned
// as it is.
func printable(s string) string { return clip(s, maxShown) }

// clip is printable with another length: at most limit runes.
func clip(s string, limit int) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if n == limit {
			b.WriteRune('…')
			break
		}
		if !safeRune(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// safeRune tells whether r may be printed: not a control, format, line or
// paragraph separator character.
func safeRune(r rune) bool {
	return !unicode.IsControl(r) && !unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// line formats a result as one line: status, name, detail, then the fix.
// Everything unsafe in it becomes U+FFFD (see printable), so nothing a
// service sends can start a line, move the cursor or reorder the text.
func (r result) line() string {
	s := r.status + "  " + r.name + ": " + r.detail
	if r.fix != "" {
		s += " Fix: " + r.fix
	}
	return strings.Map(func(c rune) rune {
		if !safeRune(c) {
			return utf8.RuneError
		}
		return c
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// doctor runs the checks of `sdesk doctor`; facts found by one check are
// kept for the checks that depend on it.
type doctor struct {
	m       *Main
	ctx     context.Context
	out     io.Writer
	cfg     config.Config
	bad     map[string]bool // variables config.Load found a problem with; "*": unknown
	results []result

	dc       *discord.Client
	bot      *discord.CurrentUser
	app      *discord.Application // only when it is DISCORD_APPLICATION_ID's
	appID    string               // the bot token's application's ID, as Discord gave it; "" if not read
	channel  *discord.Channel
	guild    *discord.Guild
	guildWhy string // why guild is nil, for the checks that need it

	gc      *gitlab.Client
	glUser  *gitlab.TokenUser
	project *gitlab.ProjectAccess
}

// doctor is `sdesk doctor`: it checks the configuration against Discord,
// GitLab and the store, prints one line per check and the bot's invite
// URL on stdout, and returns an error when a check did not pass.
func (m *Main) doctor(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return errors.New("usage: sdesk doctor")
	}
	d := &doctor{m: m, ctx: ctx, out: m.Stdout, bad: map[string]bool{}}
	d.checkConfig()
	d.discordChecks()
	d.gitlabChecks()
	d.checkStore()

	fmt.Fprintln(d.out)
	d.printInvite()
	failed, skipped, hints, warnings := 0, 0, 0, 0
	for _, r := range d.results {
		switch r.status {
		case statusFail:
			failed++
		case statusSkip:
			skipped++
		case statusHint:
			hints++
		case statusWarn:
			warnings++
		}
	}
	warned := ""
	if warnings > 0 {
		warned = fmt.Sprintf(" %d %s (WARN above).", warnings, plural(warnings, "warning", "warnings"))
	}
	if failed+skipped == 0 {
		msg := fmt.Sprintf("All %d checks passed.", len(d.results)-hints-warnings)
		if hints > 0 {
			msg += fmt.Sprintf(" %d could not be checked (HINT above).", hints)
		}
		fmt.Fprintln(d.out, msg+warned)
		return nil
	}
	fmt.Fprintf(d.out, "%d failed, %d skipped.%s Fix the first failure first: later checks depend on earlier ones.\n", failed, skipped, warned)
	return fmt.Errorf("doctor: %d %s failed, %d skipped", failed, plural(failed, "check", "checks"), skipped)
}

// discordID is a snowflake as Discord gives one: only such a value goes
// into the invite URL.
var discordID = regexp.MustCompile(`^[0-9]{15,21}$`)

// printInvite prints the bot's invite URL, for the application the bot
// token belongs to when Discord named it (even when DISCORD_APPLICATION_ID
// names another: inviting that one would not add this bot), else for
// DISCORD_APPLICATION_ID, saying that it was not checked.
func (d *doctor) printInvite() {
	const what = "adds the bot with exactly the permissions sdesk needs"
	switch {
	case discordID.MatchString(d.appID) && d.appID == d.cfg.DiscordApplicationID:
		fmt.Fprintf(d.out, "Invite URL (%s):\n", what)
		fmt.Fprintln(d.out, "  "+discord.InviteURL(d.appID))
	case discordID.MatchString(d.appID):
		fmt.Fprintf(d.out, "Invite URL of the bot token's application %s, not of DISCORD_APPLICATION_ID %s (see %s above; %s):\n",
			d.appID, d.cfg.DiscordApplicationID, checkApplication, what)
		fmt.Fprintln(d.out, "  "+discord.InviteURL(d.appID))
	case d.usable("DISCORD_APPLICATION_ID"):
		fmt.Fprintf(d.out, "Invite URL for DISCORD_APPLICATION_ID, not checked against the bot token (%s could not run above; %s):\n", checkApplication, what)
		fmt.Fprintln(d.out, "  "+discord.InviteURL(d.cfg.DiscordApplicationID))
	default:
		fmt.Fprintln(d.out, "Invite URL: skipped: DISCORD_APPLICATION_ID is missing or not valid (see config above)")
	}
}

// report prints a result and keeps it.
func (d *doctor) report(r result) {
	d.results = append(d.results, r)
	fmt.Fprintln(d.out, r.line())
}

func (d *doctor) pass(name, format string, args ...any) {
	d.report(result{status: statusPass, name: name, detail: fmt.Sprintf(format, args...)})
}

func (d *doctor) fail(name, detail, fix string) {
	d.report(result{status: statusFail, name: name, detail: detail, fix: fix})
}

func (d *doctor) skip(name, why string) {
	d.report(result{status: statusSkip, name: name, detail: "skipped: " + why})
}

// call runs one network call with its own timeout.
func (d *doctor) call(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(d.ctx, doctorTimeout)
	defer cancel()
	return fn(ctx)
}

// varName is the variable a config problem starts with.
var varName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*`)

// checkConfig loads the configuration; each problem is a failure, and
// marks its variable so that the checks needing it are skipped.
func (d *doctor) checkConfig() {
	cfg, err := d.m.load()
	d.cfg = cfg
	var cerr *config.Error
	switch {
	case err == nil:
		d.pass(checkConfig, "every variable is set and valid (sdesk config lists them)")
		d.warnUnknownVars()
		return
	case !errors.As(err, &cerr):
		d.bad["*"] = true
		d.fail(checkConfig, "the configuration could not be read", "see sdesk config")
		return
	}
	known := map[string]bool{}
	for _, v := range config.Vars {
		known[v.Name] = true
	}
	for _, p := range cerr.Problems {
		name := varName.FindString(p)
		if !known[name] {
			name = "*"
		}
		d.bad[name] = true
		d.fail(checkConfig, p, "set it in .env or the environment (README, Configuration; sdesk config shows which are set)")
	}
	d.warnUnknownVars()
}

// warnUnknownVars reports each set variable that looks like one of
// sdesk's but is not read (config.UnknownVars) as a warning.
func (d *doctor) warnUnknownVars() {
	for _, u := range d.m.unknownVars() {
		fix := "remove it if it was meant for sdesk, or rename it to the variable meant"
		if u.Closest != "" {
			fix = "rename it to " + u.Closest + " in .env or the environment"
		}
		d.report(result{status: statusWarn, name: checkConfig, detail: unknownVarText(u), fix: fix})
	}
}

// usable tells whether every variable named is valid.
func (d *doctor) usable(vars ...string) bool {
	if d.bad["*"] {
		return false
	}
	for _, v := range vars {
		if d.bad[v] {
			return false
		}
	}
	return true
}

// needs reports a check as skipped unless its variables are valid.
func (d *doctor) needs(name string, vars ...string) bool {
	if d.usable(vars...) {
		return true
	}
	for _, v := range vars {
		if d.bad[v] || d.bad["*"] {
			d.skip(name, v+" is missing or not valid (see config above)")
			return false
		}
	}
	return false
}

// discordChecks checks the bot token, the application, the support
// channel, the bot's permissions there, the staff role and the commands.
func (d *doctor) discordChecks() {
	names := []string{checkToken, checkApplication, checkPublicKey, checkEndpoint, checkChannel, checkPermissions, checkStaffRole, checkCommands}
	if !d.usable("DISCORD_BOT_TOKEN", "DISCORD_APPLICATION_ID", "DISCORD_API_URL") {
		for _, n := range names {
			d.needs(n, "DISCORD_BOT_TOKEN", "DISCORD_APPLICATION_ID", "DISCORD_API_URL")
		}
		return
	}
	dc, err := discord.NewClient(discord.ClientConfig{
		BotToken: d.cfg.DiscordBotToken, ApplicationID: d.cfg.DiscordApplicationID, APIURL: d.cfg.DiscordAPIURL,
		HTTPClient: &http.Client{Timeout: doctorTimeout}, MaxRetries: 1, MaxWait: doctorTimeout / 2,
	})
	if err != nil {
		d.fail(checkToken, "the Discord client could not be set up", "check DISCORD_BOT_TOKEN, DISCORD_APPLICATION_ID and DISCORD_API_URL")
		for _, n := range names[1:] {
			d.skip(n, "the Discord client could not be set up")
		}
		return
	}
	d.dc = dc
	d.checkToken()
	d.checkApplication()
	d.checkPublicKey()
	d.checkEndpoint()
	d.checkChannel()
	d.loadGuild()
	d.checkPermissions()
	d.checkStaffRole()
	d.checkCommands()
}

// describeDiscord says in words why a Discord call failed.
func (d *doctor) describeDiscord(err error) string {
	var rl *sdesk.RateLimitedError
	switch {
	case errors.As(err, &rl):
		return fmt.Sprintf("Discord rate-limited the request for %s", rl.After.Round(time.Second))
	case discord.StatusCode(err) != 0:
		s := fmt.Sprintf("Discord answered %d %s", discord.StatusCode(err), http.StatusText(discord.StatusCode(err)))
		if c := discord.APICode(err); c != 0 {
			s += fmt.Sprintf(" (code %d)", c)
		}
		return s
	}
	return "cannot reach " + hostOf(d.cfg.DiscordAPIURL) + ": " + describeNet(err)
}

// describeNet says in words why a request got no answer.
func describeNet(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return fmt.Sprintf("no answer within %s", doctorTimeout)
	case errors.As(err, &dns):
		return "the host name does not resolve"
	case errors.As(err, &op) && op.Op == "dial":
		return "the connection was refused or could not be made"
	}
	return clip(err.Error(), 3*maxShown)
}

// hostOf is a URL's scheme and host, for messages.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return printable(raw)
	}
	return u.Scheme + "://" + u.Host
}

const fixDiscordReach = "check DISCORD_API_URL (default https://discord.com/api/v10) and the network, then run sdesk doctor again"

func (d *doctor) checkToken() {
	var u discord.CurrentUser
	err := d.call(func(ctx context.Context) (err error) { u, err = d.dc.CurrentUser(ctx); return err })
	switch {
	case discord.StatusCode(err) == http.StatusUnauthorized:
		d.fail(checkToken, "Discord refused DISCORD_BOT_TOKEN (401 Unauthorized)",
			"in the developer portal (https://discord.com/developers/applications) open the application, Bot, Reset Token, and put the new token in DISCORD_BOT_TOKEN")
	case err != nil:
		d.fail(checkToken, d.describeDiscord(err), fixDiscordReach)
	case !u.Bot:
		d.fail(checkToken, fmt.Sprintf("DISCORD_BOT_TOKEN belongs to the user %q, not to a bot", printable(u.Username)),
			"use the token of the application's bot (developer portal, Bot, Reset Token)")
	default:
		d.bot = &u
		d.pass(checkToken, "the token is the bot %q (user %s)", printable(u.Username), u.ID)
	}
}

func (d *doctor) checkApplication() {
	if d.bot == nil {
		d.skip(checkApplication, "the bot token did not pass")
		return
	}
	var a discord.Application
	err := d.call(func(ctx context.Context) (err error) { a, err = d.dc.CurrentApplication(ctx); return err })
	if err == nil {
		d.appID = a.ID
	}
	switch {
	case err != nil:
		d.fail(checkApplication, d.describeDiscord(err), fixDiscordReach)
	case a.ID != d.cfg.DiscordApplicationID:
		d.fail(checkApplication,
			fmt.Sprintf("the bot token belongs to the application %q (ID %s), not to DISCORD_APPLICATION_ID %s", printable(a.Name), a.ID, d.cfg.DiscordApplicationID),
			fmt.Sprintf("set DISCORD_APPLICATION_ID=%s, or use the bot token of application %s; both are in the developer portal (General Information, Bot)", a.ID, d.cfg.DiscordApplicationID))
	default:
		d.app = &a
		d.pass(checkApplication, "DISCORD_APPLICATION_ID is the bot's application %q", printable(a.Name))
	}
}

func (d *doctor) checkPublicKey() {
	switch {
	case !d.needs(checkPublicKey, "DISCORD_PUBLIC_KEY"):
		return
	case d.app == nil:
		d.skip(checkPublicKey, "the application did not pass")
		return
	}
	key := hex.EncodeToString(d.cfg.DiscordPublicKey)
	switch strings.ToLower(d.app.VerifyKey) {
	case key:
		d.pass(checkPublicKey, "DISCORD_PUBLIC_KEY is the application's public key")
	case "":
		d.pass(checkPublicKey, "DISCORD_PUBLIC_KEY is well-formed (Discord did not show the application's key to compare)")
	default:
		d.fail(checkPublicKey, "DISCORD_PUBLIC_KEY is well-formed but is not the application's public key: sdesk would refuse every interaction with 401",
			"copy Public Key from the developer portal (General Information) into DISCORD_PUBLIC_KEY")
	}
}

func (d *doctor) checkEndpoint() {
	if d.app == nil {
		d.skip(checkEndpoint, "the application did not pass")
		return
	}
	const fix = "in the developer portal (General Information) set Interactions Endpoint URL to https://<your host>/interactions; sdesk must be running and reachable over HTTPS when you save it, Discord checks it"
	u := d.app.InteractionsEndpointURL
	parsed, err := url.Parse(u)
	switch {
	case u == "":
		d.fail(checkEndpoint, "the application has no Interactions Endpoint URL: Discord sends sdesk no command", fix)
	case err != nil || !strings.HasSuffix(parsed.Path, "/interactions"):
		d.fail(checkEndpoint, fmt.Sprintf("the Interactions Endpoint URL %s is not sdesk's /interactions path", shownURL(u)), fix)
	default:
		d.pass(checkEndpoint, "Discord sends interactions to %s", shownURL(u))
	}
}

// shownURL is a URL as doctor prints it: scheme, host and path only (user
// info and query may hold secrets), made printable.
func shownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strconv.Quote(printable(raw))
	}
	return printable(u.Scheme + "://" + u.Host + u.EscapedPath())
}

// channelTypeFixes says, per channel type, why it cannot be the support
// channel and what to do
// (https://discord.com/developers/docs/resources/channel#channel-object-channel-types).
var channelTypeFixes = map[disgo.ChannelType][2]string{
	disgo.ChannelTypeGuildVoice:         {"a voice channel", "create a text channel for reports and use its ID"},
	disgo.ChannelTypeGuildStageVoice:    {"a stage channel", "create a text channel for reports and use its ID"},
	disgo.ChannelTypeGuildCategory:      {"a category", "use the ID of a text channel, not of its category"},
	disgo.ChannelTypeGuildNews:          {"an announcement channel, which cannot hold private threads", "create a plain text channel for reports and use its ID"},
	disgo.ChannelTypeGuildForum:         {"a forum channel, whose posts are public", "create a text channel for reports and use its ID"},
	disgo.ChannelTypeGuildMedia:         {"a media channel, whose posts are public", "create a text channel for reports and use its ID"},
	disgo.ChannelTypeGuildPublicThread:  {"a thread", "use the ID of the text channel the thread is in"},
	disgo.ChannelTypeGuildPrivateThread: {"a thread", "use the ID of the text channel the thread is in"},
	disgo.ChannelTypeGuildNewsThread:    {"a thread", "use the ID of the text channel the thread is in"},
	disgo.ChannelTypeGuildDirectory:     {"a directory channel", "create a text channel for reports and use its ID"},
}

func (d *doctor) checkChannel() {
	switch {
	case !d.needs(checkChannel, "DISCORD_SUPPORT_CHANNEL_ID"):
		return
	case d.bot == nil:
		d.skip(checkChannel, "the bot token did not pass")
		return
	}
	id := d.cfg.DiscordSupportChannelID
	var ch discord.Channel
	err := d.call(func(ctx context.Context) (err error) { ch, err = d.dc.GetChannel(ctx, id); return err })
	switch {
	case discord.StatusCode(err) == http.StatusNotFound:
		d.fail(checkChannel, fmt.Sprintf("Discord has no channel %s (DISCORD_SUPPORT_CHANNEL_ID)", id),
			"in Discord turn on Developer Mode (User Settings, Advanced), right-click the support channel, Copy Channel ID, and put it in DISCORD_SUPPORT_CHANNEL_ID")
	case discord.StatusCode(err) == http.StatusForbidden:
		d.fail(checkChannel, fmt.Sprintf("the bot cannot see channel %s (Missing Access): it is not in that server, or lacks View Channel there", id),
			"add the bot with the invite URL below, then in the channel's settings (Permissions) allow View Channel for the bot's role")
	case err != nil:
		d.fail(checkChannel, d.describeDiscord(err), fixDiscordReach)
	case ch.GuildID == "":
		d.fail(checkChannel, fmt.Sprintf("channel %s is not in a server", id), "use a text channel of your server")
	case ch.Type != disgo.ChannelTypeGuildText:
		what, ok := channelTypeFixes[ch.Type]
		if !ok {
			what = [2]string{fmt.Sprintf("a channel of type %d", ch.Type), "create a text channel for reports and use its ID"}
		}
		d.channel = &ch
		d.fail(checkChannel, fmt.Sprintf("#%s is %s; sdesk needs a text channel (type 0), where it opens a private thread per report", printable(ch.Name), what[0]), what[1])
	default:
		d.channel = &ch
		d.pass(checkChannel, "#%s is a text channel of server %s", printable(ch.Name), ch.GuildID)
	}
}

// loadGuild reads the support channel's server for the permission and
// staff role checks.
func (d *doctor) loadGuild() {
	if d.channel == nil {
		d.guildWhy = "the support channel did not pass"
		return
	}
	var g discord.Guild
	err := d.call(func(ctx context.Context) (err error) { g, err = d.dc.GetGuild(ctx, d.channel.GuildID); return err })
	if err != nil {
		d.guildWhy = "the server could not be read: " + d.describeDiscord(err)
		return
	}
	d.guild = &g
}

func (d *doctor) checkPermissions() {
	switch {
	case d.guild == nil:
		if d.channel == nil {
			d.skip(checkPermissions, d.guildWhy)
		} else {
			d.fail(checkPermissions, d.guildWhy, "add the bot to the support channel's server with the invite URL below")
		}
		return
	case d.channel.Type != disgo.ChannelTypeGuildText:
		d.skip(checkPermissions, "the support channel is not a text channel")
		return
	}
	var m discord.Member
	err := d.call(func(ctx context.Context) (err error) { m, err = d.dc.GetMember(ctx, d.guild.ID, d.bot.ID); return err })
	if err != nil {
		d.fail(checkPermissions, "the bot's membership of the server could not be read: "+d.describeDiscord(err),
			"add the bot to the support channel's server with the invite URL below")
		return
	}
	now := time.Now()
	if m.TimedOutUntil.After(now) {
		d.fail(checkPermissions, "the bot is timed out until "+m.TimedOutUntil.UTC().Format(time.RFC3339)+": it can post nothing",
			"remove the bot's timeout (right-click the bot in the member list, Remove Timeout)")
		return
	}
	have := discord.ChannelPermissions(*d.guild, m, *d.channel, now)
	missing := discord.NeededPermissions &^ have
	channel := "#" + printable(d.channel.Name)
	if missing == 0 {
		d.pass(checkPermissions, "the bot has %s on %s", strings.Join(discord.PermissionNames(discord.NeededPermissions), ", "), channel)
		return
	}
	detail := "the bot lacks " + strings.Join(discord.PermissionNames(missing), ", ") + " on " + channel
	if missing&disgo.PermissionViewChannel != 0 {
		detail += " (without View Channel it can do nothing there)"
	}
	d.fail(checkPermissions, detail,
		"in the channel's settings (Permissions) allow these for the bot's role, and check that no role or member overwrite denies them; the invite URL below grants them server-wide")
}

func (d *doctor) checkStaffRole() {
	switch {
	case !d.needs(checkStaffRole, "DISCORD_STAFF_ROLE_ID"):
		return
	case d.cfg.DiscordStaffRoleID == "":
		d.pass(checkStaffRole, "DISCORD_STAFF_ROLE_ID is not set: only the reporter of an issue may answer or close it")
		return
	case d.guild == nil:
		d.skip(checkStaffRole, d.guildWhy)
		return
	}
	r, ok := d.guild.Role(d.cfg.DiscordStaffRoleID)
	if !ok {
		d.fail(checkStaffRole, fmt.Sprintf("server %q has no role %s (DISCORD_STAFF_ROLE_ID)", printable(d.guild.Name), d.cfg.DiscordStaffRoleID),
			"in Discord (Developer Mode on) open Server Settings, Roles, right-click the staff role, Copy Role ID, and put it in DISCORD_STAFF_ROLE_ID; or leave it empty")
		return
	}
	d.pass(checkStaffRole, "@%s may answer and close every report", printable(r.Name))
}

func (d *doctor) checkCommands() {
	switch {
	case !d.needs(checkCommands, "DISCORD_GUILD_ID"):
		return
	case d.app == nil:
		d.skip(checkCommands, "the application did not pass")
		return
	}
	guild := d.cfg.DiscordGuildID
	if guild != "" && d.channel != nil && d.channel.GuildID != guild {
		d.fail(checkCommands, fmt.Sprintf("DISCORD_GUILD_ID is %s, but the support channel is in server %s: the commands would not be offered there", guild, d.channel.GuildID),
			fmt.Sprintf("set DISCORD_GUILD_ID=%s (or leave it empty for global commands), then run sdesk commands sync", d.channel.GuildID))
		return
	}
	var got []json.RawMessage
	err := d.call(func(ctx context.Context) (err error) { got, err = d.dc.RegisteredCommands(ctx, guild); return err })
	if err != nil {
		fix := fixDiscordReach
		if discord.StatusCode(err) == http.StatusForbidden {
			fix = "add the bot to server " + guild + " with the invite URL below (it needs the applications.commands scope)"
		}
		d.fail(checkCommands, "the registered commands could not be read: "+d.describeDiscord(err), fix)
		return
	}
	problems, err := discord.CompareCommands(discord.Definitions(), got)
	if err != nil {
		d.fail(checkCommands, "Discord's list of commands could not be read", "run sdesk commands sync")
		return
	}
	where, checked, note := "globally", "the global commands", " (global commands can take up to an hour to appear)"
	if guild != "" {
		where, checked, note = "in server "+guild, "server "+guild+"'s commands", ""
	}
	if len(problems) > 0 {
		for i := range problems {
			problems[i] = printable(problems[i])
		}
		d.fail(checkCommands, strings.Join(problems, "; ")+" (checked "+checked+")", "run sdesk commands sync"+note)
		return
	}
	d.pass(checkCommands, "sdesk's %d commands are registered %s%s", len(discord.Commands), where, note)
}

// gitlabChecks checks the token, the project and its webhook.
func (d *doctor) gitlabChecks() {
	vars := []string{"GITLAB_URL", "GITLAB_TOKEN", "GITLAB_PROJECT"}
	if !d.usable(vars...) {
		for _, n := range []string{checkGitLabToken, checkProject, checkWebhook} {
			d.needs(n, vars...)
		}
		return
	}
	gc, err := gitlab.NewClient(gitlab.ClientConfig{
		BaseURL: d.cfg.GitLabURL, Token: d.cfg.GitLabToken, Project: d.cfg.GitLabProject,
		HTTPClient: &http.Client{Timeout: doctorTimeout}, MaxRetries: 1,
	})
	if err != nil {
		d.fail(checkGitLabToken, "the GitLab client could not be set up", "check GITLAB_URL, GITLAB_TOKEN and GITLAB_PROJECT")
		d.skip(checkProject, "the GitLab client could not be set up")
		d.skip(checkWebhook, "the GitLab client could not be set up")
		return
	}
	d.gc = gc
	d.checkGitLabToken()
	d.checkProject()
	d.checkWebhook()
}

// describeGitLab says in words why a GitLab call failed.
func (d *doctor) describeGitLab(err error) string {
	if s := gitlab.StatusCode(err); s != 0 {
		return fmt.Sprintf("GitLab answered %d %s", s, http.StatusText(s))
	}
	return "cannot reach " + hostOf(d.cfg.GitLabURL) + ": " + describeNet(err)
}

const fixGitLabReach = "check GITLAB_URL (default https://gitlab.com) and the network, then run sdesk doctor again"

const fixNewToken = "create a token with the api scope (your avatar, Edit profile, Access tokens; or the project's Settings, Access tokens) for a user with at least the Reporter role in the project, and put it in GITLAB_TOKEN"

func (d *doctor) checkGitLabToken() {
	var u gitlab.TokenUser
	err := d.call(func(ctx context.Context) (err error) { u, err = d.gc.TokenUser(ctx); return err })
	switch {
	case gitlab.StatusCode(err) == http.StatusUnauthorized:
		d.fail(checkGitLabToken, "GitLab refused GITLAB_TOKEN (401 Unauthorized): it is wrong, expired or revoked", fixNewToken)
		return
	case err != nil:
		d.fail(checkGitLabToken, d.describeGitLab(err), fixGitLabReach)
		return
	}
	d.glUser = &u
	var info gitlab.TokenInfo
	err = d.call(func(ctx context.Context) (err error) { info, err = d.gc.TokenInfo(ctx); return err })
	who := "@" + printable(u.Username)
	switch {
	case err != nil:
		// Older GitLab and other kinds of token cannot show their scopes.
		d.pass(checkGitLabToken, "the token acts as %s (its scopes could not be read: %s)", who, d.describeGitLab(err))
	case !slices.Contains(info.Scopes, "api"):
		d.glUser = nil
		scopes := make([]string, len(info.Scopes))
		for i, s := range info.Scopes {
			scopes[i] = printable(s)
		}
		d.fail(checkGitLabToken, fmt.Sprintf("the token of %s has the scopes [%s], not api: sdesk could not create issues or notes", who, strings.Join(scopes, " ")), fixNewToken)
	case !info.ExpiresAt.IsZero():
		d.pass(checkGitLabToken, "the token acts as %s with the api scope; it expires on %s", who, info.ExpiresAt.Format(time.DateOnly))
	default:
		d.pass(checkGitLabToken, "the token acts as %s with the api scope", who)
	}
}

func (d *doctor) checkProject() {
	if d.glUser == nil {
		d.skip(checkProject, "the GitLab token did not pass")
		return
	}
	who := "@" + printable(d.glUser.Username)
	var p gitlab.ProjectAccess
	err := d.call(func(ctx context.Context) (err error) { p, err = d.gc.ProjectAccess(ctx, d.glUser.ID); return err })
	switch {
	case errors.Is(err, sdesk.ErrNotFound):
		d.fail(checkProject, fmt.Sprintf("GITLAB_PROJECT %q does not exist, or %s cannot see it", printable(d.cfg.GitLabProject), who),
			fmt.Sprintf("set GITLAB_PROJECT to the project's path as in its URL (group/project) or its ID (Settings, General), and add %s to the project (Manage, Members) as Reporter or higher", who))
	case gitlab.StatusCode(err) == http.StatusForbidden:
		d.fail(checkProject, fmt.Sprintf("GitLab refused to show GITLAB_PROJECT %q to %s (403 Forbidden)", printable(d.cfg.GitLabProject), who),
			fmt.Sprintf("add %s to the project (Manage, Members) as Reporter or higher, with a token of the api scope", who))
	case err != nil:
		d.fail(checkProject, d.describeGitLab(err), fixGitLabReach)
	case d.glUser.Admin:
		d.project = &p
		d.pass(checkProject, "%s (ID %d): %s is an administrator", printable(p.Path), p.ID, who)
	case p.Level < gitlab.AccessReporter:
		d.fail(checkProject, fmt.Sprintf("%s has %s in %s; sdesk needs at least Reporter (20) to see and write confidential issues", who, gitlab.AccessLevelName(p.Level), printable(p.Path)),
			fmt.Sprintf("in the project (Manage, Members) give %s the Reporter role or higher", who))
	default:
		d.project = &p
		d.pass(checkProject, "%s (ID %d): %s is %s", printable(p.Path), p.ID, who, gitlab.AccessLevelName(p.Level))
	}
}

func (d *doctor) checkWebhook() {
	if d.project == nil {
		d.skip(checkWebhook, "the GitLab project did not pass")
		return
	}
	const fixAdd = "in the project's Settings, Webhooks, add a webhook: URL https://<your host>/gitlab, Secret token = GITLAB_WEBHOOK_SECRET, triggers " + hookTriggersNamed
	var hooks []gitlab.Hook
	err := d.call(func(ctx context.Context) (err error) { hooks, err = d.gc.ProjectHooks(ctx); return err })
	switch {
	case gitlab.StatusCode(err) == http.StatusForbidden:
		d.report(result{status: statusHint, name: checkWebhook,
			detail: "the token may not list the project's webhooks (that needs Maintainer), so they were not checked",
			fix:    "check by hand in the project's Settings, Webhooks: a webhook to https://<your host>/gitlab with " + hookTriggersNamed})
		return
	case err != nil:
		d.fail(checkWebhook, d.describeGitLab(err), fixGitLabReach)
		return
	}
	var best *gitlab.Hook
	for i, h := range hooks {
		u, err := url.Parse(h.URL)
		if err != nil || !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/gitlab") {
			continue
		}
		if best == nil || len(h.MissingTriggers()) < len(best.MissingTriggers()) {
			best = &hooks[i]
		}
	}
	switch {
	case best == nil:
		d.fail(checkWebhook, fmt.Sprintf("no webhook of %s points at sdesk (a URL ending in /gitlab); a group webhook is not checked", printable(d.project.Path)), fixAdd)
	case len(best.MissingTriggers()) > 0:
		d.fail(checkWebhook, fmt.Sprintf("the webhook to %s lacks %s", shownURL(best.URL), strings.Join(best.MissingTriggers(), ", ")),
			"in the project's Settings, Webhooks, edit it and enable "+strings.Join(best.MissingTriggers(), ", "))
	case best.AlertStatus == "disabled" || best.AlertStatus == "temporarily_disabled":
		d.fail(checkWebhook, fmt.Sprintf("GitLab disabled the webhook to %s after failed deliveries", shownURL(best.URL)),
			"make sdesk reachable at that URL, then in Settings, Webhooks send a test event (Test, Issues events) to enable it again")
	default:
		d.pass(checkWebhook, "the webhook to %s has %s", shownURL(best.URL), hookTriggersNamed)
	}
}

// checkStore checks that the configured store can be used.
func (d *doctor) checkStore() {
	if !d.needs(checkStore, "SDESK_STORE") {
		return
	}
	switch d.cfg.Store {
	case config.StoreBolt:
		if d.needs(checkStore, "SDESK_BOLT_PATH") {
			d.checkBolt()
		}
	case config.StoreDynamoDB:
		if d.needs(checkStore, "SDESK_TABLE", "DYNAMODB_ENDPOINT") {
			d.checkDynamo()
		}
	}
}

func (d *doctor) checkBolt() {
	path := d.cfg.BoltPath
	shown := printable(path)
	err := bolt.Check(path, min(doctorTimeout, 2*time.Second))
	switch {
	case err == nil:
		d.pass(checkStore, "the bbolt file %s opens", shown)
	case errors.Is(err, bolt.ErrNoFile):
		d.pass(checkStore, "the bbolt file %s does not exist yet; sdesk serve will create it (its directory is writable)", shown)
	case errors.Is(err, bolt.ErrLocked):
		d.fail(checkStore, fmt.Sprintf("the bbolt file %s is held by another process, most likely a running sdesk serve (one process at a time may open it)", shown),
			"stop sdesk serve and run sdesk doctor again to check the file; while serve runs, it is the file's only user")
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		d.fail(checkStore, fmt.Sprintf("%s is not a bbolt database, or is damaged", shown),
			"point SDESK_BOLT_PATH at sdesk's file; to start afresh, move this file away (sdesk serve creates a new one)")
	case errors.Is(err, os.ErrNotExist):
		d.fail(checkStore, fmt.Sprintf("the directory of SDESK_BOLT_PATH %s does not exist", shown),
			"create the directory, or set SDESK_BOLT_PATH to a file in an existing one")
	case errors.Is(err, os.ErrPermission):
		d.fail(checkStore, fmt.Sprintf("sdesk may not write %s or its directory", shown),
			"let the user that runs sdesk write the file and its directory (chown, chmod), or set SDESK_BOLT_PATH elsewhere")
	default:
		d.fail(checkStore, fmt.Sprintf("the bbolt file %s cannot be used: %s", shown, describeFile(err)),
			"set SDESK_BOLT_PATH to a file sdesk can create or open")
	}
}

// describeFile says in words why a file cannot be used.
func describeFile(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return printable(pe.Err.Error())
	}
	return printable(err.Error())
}

func (d *doctor) checkDynamo() {
	table := printable(d.cfg.Table)
	where := "the AWS account's default endpoint"
	if d.cfg.DynamoDB != "" {
		where = printable(d.cfg.DynamoDB)
	}
	var region string
	err := d.call(func(ctx context.Context) error {
		awsCfg, err := awsConfig(d.m.Getenv, d.m.adminLogger(d.cfg))(ctx)
		if err != nil {
			return err
		}
		region = awsCfg.Region
		return dynamo.New(dynamo.NewClient(awsCfg, d.cfg.DynamoDB), d.cfg.Table).Check(ctx)
	})
	if region != "" && d.cfg.DynamoDB == "" {
		where = "region " + printable(region)
	}
	var te *dynamo.TableError
	switch {
	case err == nil:
		d.pass(checkStore, "the DynamoDB table %s (%s) has sdesk's keys and index", table, where)
	case errors.Is(err, dynamo.ErrNoTable):
		d.fail(checkStore, fmt.Sprintf("there is no DynamoDB table %s (SDESK_TABLE) in %s", table, where),
			"set SDESK_TABLE to the table of your stack (sam deploy creates it from template.yaml's Table resource), or create a table shaped like that resource, in the region (AWS_REGION) or at DYNAMODB_ENDPOINT sdesk uses")
	case errors.As(err, &te):
		problems := make([]string, len(te.Problems))
		for i, p := range te.Problems {
			problems[i] = printable(p)
		}
		d.fail(checkStore, fmt.Sprintf("the DynamoDB table %s is not shaped as sdesk needs: %s", table, strings.Join(problems, "; ")),
			"point SDESK_TABLE at a table made from template.yaml's Table resource (string keys PK and SK, index GSI1 on GSI1PK and GSI1SK projecting all attributes)")
	case errors.Is(err, errNoAWSRegion):
		d.fail(checkStore, fmt.Sprintf("no AWS region is configured, so DynamoDB table %s cannot be found", table), fixAWSRegion)
	case errors.Is(err, errNoAWSCredentials):
		d.fail(checkStore, fmt.Sprintf("no AWS credentials were found to read DynamoDB table %s (%s)", table, where), fixAWSCredentials)
	default:
		d.fail(checkStore, fmt.Sprintf("DynamoDB (%s) could not be asked about table %s: %s", where, table, describeNet(err)),
			"give sdesk AWS credentials and a region (AWS_PROFILE or ~/.aws, environment variables, SSO, an instance role) allowed dynamodb:DescribeTable, or set DYNAMODB_ENDPOINT for DynamoDB Local")
	}
}
