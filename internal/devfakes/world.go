package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sdesk/sdesk/internal/devkey"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
)

// The dev world: the IDs and secrets of the sample events (`sdesk events`,
// events/env.json), so that their interactions, signed with the same
// development key, fit it too. None of them is a secret.
const (
	appID         = "1200000000000000001"
	channelID     = "1200000000000000002"
	guildID       = "1200000000000000003"
	staffRoleID   = "1200000000000000004"
	botUserID     = "1200000000000000005"
	reporterID    = "1210000000000000001"
	staffUserID   = "1210000000000000003"
	botToken      = "dev-bot-token"
	gitlabToken   = "dev-gitlab-token"
	webhookSecret = "dev-webhook-secret"
	// boltPath is SDESK_BOLT_PATH, relative to where sdesk runs (the
	// directory of its .env); *.db is ignored by git.
	boltPath = "sdesk-fakes.db"
)

// Defaults of the flags, and the variables that override them.
const (
	defaultDiscordAddr = "127.0.0.1:8091"
	defaultGitLabAddr  = "127.0.0.1:8092"
	defaultSdeskURL    = "http://127.0.0.1:8080"
	defaultEnvFile     = ".env.fakes"

	envDiscordAddr = "DEVFAKES_DISCORD_ADDR"
	envGitLabAddr  = "DEVFAKES_GITLAB_ADDR"
	envSdeskURL    = "DEVFAKES_SDESK_URL"
	// envAllInterfaces, when "1" or "true", is -all-interfaces.
	envAllInterfaces = "DEVFAKES_ALL_INTERFACES"
)

// envHeader starts every file devfakes writes; a file without it is never
// overwritten.
const envHeader = "# Written by `go run ./internal/devfakes` (make fakes):"

// world is the running dev fakes.
type world struct {
	Discord *discordfake.Server
	GitLab  *gitlabfake.Server
	// SdeskURL is where sdesk serve listens, http://HOST:PORT; Addr is
	// its HOST:PORT (SDESK_ADDR).
	SdeskURL, Addr string
}

// listen listens on addr for the fake named what; the error names the
// flag and the variable that choose another address.
func listen(what, addr, flagName, envName string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("the %s cannot listen on %s: the port is in use (another `make fakes`?). Stop what holds it, or choose another address with -%s or %s",
			what, addr, flagName, envName)
	case err != nil:
		return nil, fmt.Errorf("the %s cannot listen on %s: %w (choose another address with -%s or %s)", what, addr, err, flagName, envName)
	}
	return l, nil
}

// sdeskAddr checks the sdesk URL and returns its HOST:PORT.
func sdeskAddr(raw string) (string, error) {
	u, err := url.Parse(raw)
	ok := err == nil && u.Scheme == "http" && u.User == nil && u.Hostname() != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery
	if ok {
		p, err := strconv.Atoi(u.Port())
		ok = err == nil && p > 0 && p < 65536
	}
	if !ok {
		return "", fmt.Errorf("-sdesk %s must be http://HOST:PORT, where sdesk serve listens (SDESK_ADDR), e.g. %s", strconv.QuoteToGraphic(raw), defaultSdeskURL)
	}
	return u.Host, nil
}

// start starts both fakes and sets them up as a working installation for
// sdesk at sdeskURL: the application (the development key, the
// interactions endpoint), the server with the support channel, the bot's
// permissions (its role as sdesk's invite URL makes it) and the staff
// role, two members, and a project where the token is Maintainer with a
// webhook to sdesk's /gitlab carrying every trigger sdesk needs.
func start(discordAddr, gitlabAddr, sdeskURL string) (*world, error) {
	addr, err := sdeskAddr(sdeskURL)
	if err != nil {
		return nil, err
	}
	w := &world{SdeskURL: "http://" + addr, Addr: addr}
	dl, err := listen("fake Discord", discordAddr, "discord", envDiscordAddr)
	if err != nil {
		return nil, err
	}
	gl, err := listen("fake GitLab", gitlabAddr, "gitlab", envGitLabAddr)
	if err != nil {
		dl.Close()
		return nil, err
	}
	for _, l := range []net.Listener{dl, gl} {
		if sameAddr(l.Addr().String(), addr) {
			dl.Close()
			gl.Close()
			return nil, fmt.Errorf("-sdesk %s is the address of a fake (%s): give sdesk its own port", w.SdeskURL, l.Addr())
		}
	}
	w.Discord, err = discordfake.Serve(dl, discordfake.Identity{Token: botToken, BotUserID: botUserID, GuildID: guildID})
	if err != nil {
		dl.Close()
		gl.Close()
		return nil, fmt.Errorf("start the fake Discord: %w", err)
	}
	w.GitLab = gitlabfake.Serve(gl, gitlabfake.WithToken(gitlabToken))

	d := w.Discord
	d.SetApplication(discordfake.Application{
		ID: appID, Name: "sdesk (fake)", VerifyKey: devkey.PublicKeyHex(),
		InteractionsEndpointURL: w.SdeskURL + "/interactions",
	})
	d.SetChannel(channelID, "support", 0)
	d.SetRole(discordfake.Role{ID: staffRoleID, Name: "Staff"})
	d.SetMember(discordfake.Member{UserID: reporterID})
	d.SetMember(discordfake.Member{UserID: staffUserID, Roles: []string{staffRoleID}})
	w.GitLab.AddHook(gitlabfake.Hook{
		URL: w.SdeskURL + "/gitlab", IssuesEvents: true, ConfidentialIssuesEvents: true,
		NoteEvents: true, ConfidentialNoteEvents: true,
	})
	return w, nil
}

// onAllInterfaces is addr with the unspecified IPv4 host 0.0.0.0 (every
// interface) in place of its host, its port kept: a container (sam local's
// functions, as host.docker.internal) reaches a fake only on an interface
// other than loopback.
func onAllInterfaces(addr string) (string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%s: %w", addr, err)
	}
	return net.JoinHostPort("0.0.0.0", port), nil
}

// localURL is a fake's URL as sdesk on this machine reaches it: an
// unspecified host (a fake listening on every interface: Go listens on
// 0.0.0.0 as on [::], for IPv4 and IPv6 alike) becomes 127.0.0.1.
func localURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	}
	return u.String()
}

// DiscordURL and GitLabURL are the fakes' URLs for sdesk (localURL).
func (w *world) DiscordURL() string { return localURL(w.Discord.URL()) }
func (w *world) GitLabURL() string  { return localURL(w.GitLab.URL()) }

// sameAddr tells whether two HOST:PORT name the same port, taking a
// wildcard or loopback host as any.
func sameAddr(a, b string) bool {
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || ap != bp {
		return false
	}
	local := func(h string) bool {
		ip := net.ParseIP(h)
		return h == "" || h == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
	}
	return ah == bh || local(ah) && local(bh)
}

// Close stops both fakes.
func (w *world) Close() {
	w.Discord.Close()
	w.GitLab.Close()
}

// vars is sdesk's configuration for the world, in the order of the file.
func (w *world) vars() [][2]string {
	return [][2]string{
		{"DISCORD_APPLICATION_ID", appID},
		{"DISCORD_PUBLIC_KEY", devkey.PublicKeyHex()},
		{"DISCORD_BOT_TOKEN", botToken},
		{"DISCORD_SUPPORT_CHANNEL_ID", channelID},
		{"DISCORD_GUILD_ID", guildID},
		{"DISCORD_STAFF_ROLE_ID", staffRoleID},
		{"DISCORD_API_URL", w.DiscordURL()},
		{"GITLAB_URL", w.GitLabURL()},
		{"GITLAB_TOKEN", gitlabToken},
		{"GITLAB_PROJECT", w.GitLab.ProjectPath()},
		{"GITLAB_WEBHOOK_SECRET", webhookSecret},
		{"SDESK_STORE", "bolt"},
		{"SDESK_BOLT_PATH", boltPath},
		{"SDESK_ADDR", w.Addr},
	}
}

// envFile is the text of the .env file for the world.
func (w *world) envFile() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintln(&b, envHeader)
	fmt.Fprintln(&b, "# sdesk's configuration for the fake Discord and GitLab it runs. Use it as")
	fmt.Fprintln(&b, "# .env (cp .env.fakes .env). Not for a real deployment: every key and token")
	fmt.Fprintln(&b, "# here is public. It is written again on each start.")
	for _, kv := range w.vars() {
		v, err := envValue(kv[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kv[0], err)
		}
		fmt.Fprintf(&b, "%s=%s\n", kv[0], v)
	}
	return b.Bytes(), nil
}

// errUnquotable is envValue's refusal.
var errUnquotable = errors.New("a value with a single quote, a line break, or a backslash at its end cannot be written to a .env file")

// envValue quotes v for a .env file as sdesk reads it (pkg/config's
// ParseDotEnv, godotenv v1.5.1): in single quotes, which godotenv takes
// literally (no $ expansion, no escapes). Single quotes cannot hold a
// single quote, a line break (CR or LF), or a backslash at the end (it
// would escape the closing quote): for those it returns errUnquotable.
func envValue(v string) (string, error) {
	if strings.ContainsAny(v, "'\r\n") || strings.HasSuffix(v, `\`) {
		return "", errUnquotable
	}
	return "'" + v + "'", nil
}

// writeEnvFile writes data to path through a temporary file in its
// directory, so that a reader never sees half of it. It refuses to replace
// a file that devfakes did not write (its first line is not envHeader).
func writeEnvFile(path string, data []byte) error {
	f, err := os.Open(path)
	switch {
	case err == nil:
		first, _ := bufio.NewReader(f).ReadString('\n')
		f.Close()
		if strings.TrimRight(first, "\r\n") != envHeader {
			return fmt.Errorf("%s exists and was not written by devfakes: move it away, or write elsewhere with -env FILE", path)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("check %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".devfakes-env-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// serveFakes is devfakes without a subcommand: it starts the fakes,
// writes (or prints) the .env file, prints what to do next, and logs the
// fakes' requests until ctx ends.
func serveFakes(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devfakes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	discordAddr := fs.String("discord", envOr(getenv, envDiscordAddr, defaultDiscordAddr), "address of the fake Discord (or "+envDiscordAddr+")")
	gitlabAddr := fs.String("gitlab", envOr(getenv, envGitLabAddr, defaultGitLabAddr), "address of the fake GitLab (or "+envGitLabAddr+")")
	sdeskURL := fs.String("sdesk", envOr(getenv, envSdeskURL, defaultSdeskURL), "http://HOST:PORT where sdesk serve listens (or "+envSdeskURL+")")
	allDefault := getenv(envAllInterfaces) == "1" || getenv(envAllInterfaces) == "true"
	all := fs.Bool("all-interfaces", allDefault, "listen on every interface (0.0.0.0) at the ports of -discord and -gitlab, so that sam local's containers reach the fakes as host.docker.internal (or "+envAllInterfaces+"=1); anyone who can reach this machine can then use them")
	envPath := fs.String("env", defaultEnvFile, "file to write sdesk's configuration into; - prints it instead")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage:
  go run ./internal/devfakes [flags]    run the fake Discord and GitLab, write .env.fakes
  go run ./internal/devfakes report [-title T] [-description D] [-staff] [-sdesk URL]
  go run ./internal/devfakes reply -thread ID -message TEXT [-staff] [-sdesk URL]

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("unknown command %s", strconv.QuoteToGraphic(fs.Arg(0)))
	}
	if *all {
		var err error
		if *discordAddr, err = onAllInterfaces(*discordAddr); err != nil {
			return fmt.Errorf("-discord %w", err)
		}
		if *gitlabAddr, err = onAllInterfaces(*gitlabAddr); err != nil {
			return fmt.Errorf("-gitlab %w", err)
		}
	}
	w, err := start(*discordAddr, *gitlabAddr, *sdeskURL)
	if err != nil {
		return err
	}
	defer w.Close()
	data, err := w.envFile()
	if err != nil {
		return err
	}
	dir := "."
	if *envPath == "-" {
		fmt.Fprintf(stdout, "sdesk's configuration for these fakes (put it in .env):\n\n%s\n", data)
	} else {
		if err := writeEnvFile(*envPath, data); err != nil {
			return err
		}
		dir = filepath.Dir(*envPath)
	}
	printIntro(stdout, w, *envPath, dir)

	lg := &requestLog{out: stdout}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			lg.follow(w, time.Now()) // what was answered meanwhile
			fmt.Fprintln(stdout, "devfakes: stopped; the fakes' state is gone")
			return nil
		case now := <-tick.C:
			lg.follow(w, now)
		}
	}
}

// printIntro says where the fakes are, what was written, how to go on and
// how to look at the fakes' state.
func printIntro(out io.Writer, w *world, envPath, dir string) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	p("Fake Discord: %s (bot token %s, server %s, support channel %s)", w.DiscordURL(), botToken, guildID, channelID)
	p("Fake GitLab:  %s (token %s, project %s, ID %d)", w.GitLabURL(), gitlabToken, w.GitLab.ProjectPath(), w.GitLab.ProjectID())
	if w.DiscordURL() != w.Discord.URL() || w.GitLabURL() != w.GitLab.URL() {
		d, _ := url.Parse(w.Discord.URL())
		g, _ := url.Parse(w.GitLab.URL())
		p("Both listen on every interface: a container (sam local) reaches them as http://host.docker.internal:%s%s and http://host.docker.internal:%s.",
			d.Port(), d.Path, g.Port())
	}
	if envPath != "-" {
		p("Wrote %s: sdesk's configuration for these fakes, with sdesk at %s.", envPath, w.SdeskURL)
	}
	if _, err := os.Stat(filepath.Join(dir, boltPath)); err == nil {
		p("")
		p("Note: %s is left from an earlier run; its reports point at threads and issues these", filepath.Join(dir, boltPath))
		p("new fakes do not have. For a clean start, remove it before sdesk serve starts.")
	}
	p("")
	p("Next, in another terminal, from the repository:")
	step := func(cmd, what string) { p("  %-34s  %s", cmd, what) }
	switch {
	case envPath == "-":
		p("  put the configuration printed above in .env")
	case filepath.Clean(envPath) != ".env":
		step("cp "+envPath+" .env", "keep your own .env elsewhere first")
	}
	step("go run ./cmd/sdesk commands sync", "registers the commands in the fake Discord")
	step("go run ./cmd/sdesk doctor", "every check passes (run it before make run: serve holds the bbolt file)")
	step("make run", "sdesk serve on "+w.Addr)
	p("Then play, in a third terminal:")
	p("  go run ./internal/devfakes report -title 'Login fails'")
	p("      a member submits the /report form; the log below shows the thread and the issue")
	p("  go run ./internal/devfakes reply -thread ID -message 'Thanks'")
	p("      /reply in the report's thread (ID: the log's \"continue in <#ID>\")")
	p("What the fakes hold, through their own API:")
	p("  curl -H 'PRIVATE-TOKEN: %s' %s/api/v4/projects/%d/issues", gitlabToken, w.GitLabURL(), w.GitLab.ProjectID())
	p("  curl -H 'PRIVATE-TOKEN: %s' %s/api/v4/projects/%d/issues/1/notes", gitlabToken, w.GitLabURL(), w.GitLab.ProjectID())
	p("  curl -H 'Authorization: Bot %s' %s/guilds/%s/threads/active", botToken, w.DiscordURL(), guildID)
	p("  curl -H 'Authorization: Bot %s' %s/applications/%s/guilds/%s/commands", botToken, w.DiscordURL(), appID, guildID)
	p("The fakes keep everything in memory and send no webhooks. Ctrl-C stops them.")
	p("")
	p("Requests to the fakes (service, method, path, status, text sent):")
}
