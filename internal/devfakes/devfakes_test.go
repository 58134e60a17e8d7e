package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sdesk/sdesk/internal/repo"
	"github.com/sdesk/sdesk/pkg/config"
)

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr is a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// eventually polls cond until it holds or 20 s have passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buildSdesk builds cmd/sdesk into dir and returns the binary's path.
func buildSdesk(t *testing.T, dir string) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on the PATH: %v", err)
	}
	bin := filepath.Join(dir, "sdesk")
	cmd := exec.Command(gobin, "build", "-buildvcs=false", "-o", bin, "./cmd/sdesk")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/sdesk: %v\n%s", err, out)
	}
	return bin
}

// sdeskCmd runs the sdesk binary in dir, where its .env is, with an
// environment that sets none of sdesk's variables: the file alone
// configures it.
func sdeskCmd(bin, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	return cmd
}

// api GETs a fake's API with a header and decodes the JSON answer.
func api(t *testing.T, url, header, value string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

// TestReadmeWalkthrough follows the README's "Try it locally with fake
// Discord and GitLab" with the sdesk binary: the dev fakes write .env,
// `sdesk commands sync` and `sdesk doctor` pass on it alone, then `sdesk
// serve` takes a report and a reply sent by devfakes, which reach the
// fakes and show in devfakes' log.
func TestReadmeWalkthrough(t *testing.T) {
	dir := t.TempDir()
	bin := buildSdesk(t, dir)
	sdeskURL := "http://" + freeAddr(t)
	envPath := filepath.Join(dir, ".env")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-discord", "127.0.0.1:0", "-gitlab", "127.0.0.1:0", "-sdesk", sdeskURL, "-env", envPath},
			func(string) string { return "" }, &out, &errOut)
	}()
	var vars map[string]string
	eventually(t, "the env file", func() bool {
		select {
		case err := <-done:
			t.Fatalf("devfakes ended early: %v\n%s%s", err, out.String(), errOut.String())
		default:
		}
		data, err := os.ReadFile(envPath)
		if err != nil {
			return false
		}
		vars, err = config.ParseDotEnv(envPath, data)
		if err != nil {
			t.Fatal(err)
		}
		return true
	})
	if got, want := vars["SDESK_ADDR"], strings.TrimPrefix(sdeskURL, "http://"); got != want {
		t.Errorf("SDESK_ADDR: got %q, want %q", got, want)
	}

	for _, args := range [][]string{{"commands", "sync"}, {"doctor"}} {
		cmd := sdeskCmd(bin, dir, args...)
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sdesk %s: %v\n%s", strings.Join(args, " "), err, got)
		}
		if args[0] != "doctor" {
			continue
		}
		checks := regexp.MustCompile(`(?m)^(PASS|FAIL|SKIP|HINT)  `).FindAllStringSubmatch(string(got), -1)
		if len(checks) < 13 {
			t.Errorf("doctor printed %d check lines, want at least 13:\n%s", len(checks), got)
		}
		for _, c := range checks {
			if c[1] != "PASS" {
				t.Errorf("doctor: a check did not pass:\n%s", got)
				break
			}
		}
		if !strings.Contains(string(got), "All "+strconv.Itoa(len(checks))+" checks passed.") {
			t.Errorf("doctor: no summary of all checks passed:\n%s", got)
		}
	}

	serve := sdeskCmd(bin, dir, "serve")
	var serveLog syncBuffer
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = serve.Process.Signal(os.Interrupt)
		_ = serve.Wait()
	}()
	eventually(t, "sdesk serve", func() bool {
		resp, err := http.Get(sdeskURL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	var said bytes.Buffer
	if err := run(ctx, []string{"report", "-sdesk", sdeskURL, "-title", "Login fails", "-description", "Nothing happens"},
		func(string) string { return "" }, &said, io.Discard); err != nil {
		t.Fatalf("devfakes report: %v\nsdesk: %s", err, serveLog.String())
	}
	if !strings.Contains(said.String(), "deferred (type 5)") {
		t.Errorf("devfakes report said %q, want the deferred answer", said.String())
	}
	gitlabAPI := vars["GITLAB_URL"] + "/api/v4/projects/4242"
	eventually(t, "the issue in the fake GitLab", func() bool {
		var issues []struct {
			Title        string `json:"title"`
			Confidential bool   `json:"confidential"`
		}
		api(t, gitlabAPI+"/issues", "PRIVATE-TOKEN", vars["GITLAB_TOKEN"], &issues)
		return len(issues) == 1 && issues[0].Title == "Login fails" && issues[0].Confidential
	})
	var thread string
	eventually(t, "the thread in the fake Discord", func() bool {
		var active struct {
			Threads []struct {
				ID       string `json:"id"`
				Name     string `json:"name"`
				ParentID string `json:"parent_id"`
				Type     int    `json:"type"`
			} `json:"threads"`
		}
		api(t, vars["DISCORD_API_URL"]+"/guilds/"+guildID+"/threads/active", "Authorization", "Bot "+vars["DISCORD_BOT_TOKEN"], &active)
		if len(active.Threads) != 1 {
			return false
		}
		th := active.Threads[0]
		if th.Name != "#1 Login fails" || th.ParentID != channelID || th.Type != 12 {
			t.Fatalf("thread: got %+v, want the private thread #1 Login fails in the support channel", th)
		}
		thread = th.ID
		return true
	})
	eventually(t, "the report's answer in devfakes' log", func() bool {
		return strings.Contains(out.String(), "continue in <#"+thread+">")
	})

	said.Reset()
	if err := run(ctx, []string{"reply", "-sdesk", sdeskURL, "-thread", thread, "-message", "It works after a restart"},
		func(string) string { return "" }, &said, io.Discard); err != nil {
		t.Fatalf("devfakes reply: %v\nsdesk: %s", err, serveLog.String())
	}
	eventually(t, "the reply as a note in the fake GitLab", func() bool {
		var notes []struct {
			Body string `json:"body"`
		}
		api(t, gitlabAPI+"/issues/1/notes", "PRIVATE-TOKEN", vars["GITLAB_TOKEN"], &notes)
		return len(notes) == 1 && strings.Contains(notes[0].Body, "It works after a restart")
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("devfakes: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("devfakes did not stop")
	}
	log := out.String()
	for _, want := range []string{
		"Wrote " + envPath,
		"discord  PUT    /applications/" + appID + "/guilds/" + guildID + "/commands 200\n",
		"discord  POST   /channels/" + channelID + "/threads 201 \"#1 Login fails\"\n",
		"gitlab   POST   /api/v4/projects/acme%2Fsupport/issues 201 \"Login fails\"\n",
		"gitlab   POST   /api/v4/projects/acme%2Fsupport/issues/1/notes 201 \"> It works after a restart",
		"devfakes: stopped",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("devfakes' output lacks %q:\n%s", want, log)
		}
	}
}

func TestPortInUse(t *testing.T) {
	tests := []struct {
		name     string
		flag     string
		wantText []string
	}{
		{"discord", "-discord", []string{"the fake Discord cannot listen on", "the port is in use", "-discord", "DEVFAKES_DISCORD_ADDR"}},
		{"gitlab", "-gitlab", []string{"the fake GitLab cannot listen on", "the port is in use", "-gitlab", "DEVFAKES_GITLAB_ADDR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			other := freeAddr(t) // the fake that could start must let its port go
			args := []string{"-discord", other, "-gitlab", other, "-sdesk", "http://" + freeAddr(t), "-env", filepath.Join(t.TempDir(), ".env.fakes")}
			if tc.flag == "-discord" {
				args[1] = held.Addr().String()
			} else {
				args[3] = held.Addr().String()
			}
			err = run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("got no error")
			}
			for _, want := range tc.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got %q, want it to say %q", err, want)
				}
			}
			if _, err := os.Stat(args[7]); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the env file was written: %v", err)
			}
			l, err := net.Listen("tcp", other)
			if err != nil {
				t.Fatalf("the other fake's port %s is still held: %v", other, err)
			}
			l.Close()
		})
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	env := map[string]string{envGitLabAddr: held.Addr().String(), envDiscordAddr: "127.0.0.1:0"}
	err = run(context.Background(), []string{"-env", "-"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the fake GitLab cannot listen on "+held.Addr().String()) {
		t.Errorf("got %v, want the GitLab address of %s refused", err, envGitLabAddr)
	}
}

func TestSdeskURL(t *testing.T) {
	tests := []struct {
		url, want string // want "": refused
	}{
		{"http://127.0.0.1:8080", "127.0.0.1:8080"},
		{"http://127.0.0.1:8080/", "127.0.0.1:8080"},
		{"http://localhost:9000", "localhost:9000"},
		{"http://[::1]:8080", "[::1]:8080"},
		{"http://127.0.0.1", ""},
		{"https://127.0.0.1:8080", ""},
		{"http://127.0.0.1:8080/interactions", ""},
		{"http://127.0.0.1:0", ""},
		{"http://127.0.0.1:70000", ""},
		{"http://user:pw@127.0.0.1:8080", ""},
		{"http://127.0.0.1:8080?x=1", ""},
		{"127.0.0.1:8080", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := sdeskAddr(tc.url)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("sdeskAddr(%q): got %q, %v; want %q", tc.url, got, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "must be http://HOST:PORT") {
			t.Errorf("sdeskAddr(%q): got %q, want it to say what it takes", tc.url, err)
		}
	}
}

func TestSdeskOnAFakesPort(t *testing.T) {
	addr := freeAddr(t)
	err := run(context.Background(), []string{"-discord", addr, "-gitlab", "127.0.0.1:0", "-sdesk", "http://" + addr, "-env", "-"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is the address of a fake") {
		t.Errorf("got %v, want the clash refused", err)
	}
}

// TestEnvFile checks the file devfakes writes: sdesk's reader takes every
// variable back as written, and the configuration it makes is valid.
func TestEnvFile(t *testing.T) {
	w, err := start("127.0.0.1:0", "127.0.0.1:0", "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	data, err := w.envFile()
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.ParseDotEnv(".env.fakes", data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, kv := range w.vars() {
		want[kv[0]] = kv[1]
	}
	if len(got) != len(want) {
		t.Errorf("got %d variables, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	cfg, err := config.Load(func(k string) string { return got[k] })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	if cfg.DiscordAPIURL != w.Discord.URL() || cfg.GitLabURL != w.GitLab.URL() || cfg.Addr != "127.0.0.1:8080" {
		t.Errorf("config: got Discord %s, GitLab %s, addr %s", cfg.DiscordAPIURL, cfg.GitLabURL, cfg.Addr)
	}
}

func TestWriteEnvFile(t *testing.T) {
	dir := t.TempDir()
	ours := envHeader + "\nA='1'\n"
	tests := []struct {
		name     string
		existing *string // nil: no file
		wantErr  string
	}{
		{"new file", nil, ""},
		{"a file devfakes wrote", &ours, ""},
		{"someone's own .env", ptr("DISCORD_BOT_TOKEN=real-token\n"), "exists and was not written by devfakes"},
		{"the header further down", ptr("# mine\n" + envHeader + "\n"), "exists and was not written by devfakes"},
		{"an empty file", ptr(""), "exists and was not written by devfakes"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strconv.Itoa(i)+".env")
			if tc.existing != nil {
				if err := os.WriteFile(path, []byte(*tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := writeEnvFile(path, []byte(envHeader+"\nB='2'\n"))
			got, _ := os.ReadFile(path)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v", err)
			case tc.wantErr == "" && string(got) != envHeader+"\nB='2'\n":
				t.Errorf("file: got %q", got)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want %q", err, tc.wantErr)
			case tc.wantErr != "" && string(got) != *tc.existing:
				t.Errorf("the file was changed: %q", got)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".devfakes-env-") {
			t.Errorf("a temporary file was left: %s", e.Name())
		}
	}
}

func ptr(s string) *string { return &s }

func TestEnvValue(t *testing.T) {
	tests := []struct {
		in, want string // want "": refused
	}{
		{"plain", "'plain'"},
		{"", "''"},
		{"with $HOME and ${X} and # not a comment", "'with $HOME and ${X} and # not a comment'"},
		{`back\slash`, `'back\slash'`},
		{`"double"`, `'"double"'`},
		{"it's", ""},
		{"two\nlines", ""},
		{"cr\r", ""},
		{`ends in \`, ""},
	}
	for _, tc := range tests {
		got, err := envValue(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("envValue(%q): got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzEnvValue states envValue's rule: it refuses exactly the values with
// a single quote, a CR or LF, or a final backslash; every other value
// written as KEY=<envValue> is read back by sdesk's reader
// (config.ParseDotEnv) as exactly that value, and the line after it is
// read as its own.
func FuzzEnvValue(f *testing.F) {
	for _, s := range []string{"", "x", "a b", "$X", "${X}", `\`, `a\b`, `\'`, "'", "#", " # c", "\x00", "\xff", "\"q\"", "a\nb", "\t", " lead", "trail "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		q, err := envValue(v)
		refuse := strings.ContainsAny(v, "'\r\n") || strings.HasSuffix(v, `\`)
		if (err != nil) != refuse {
			t.Fatalf("envValue(%q): got %v, want refused: %v", v, err, refuse)
		}
		if refuse {
			return
		}
		got, err := config.ParseDotEnv("fuzz", []byte("KEY="+q+"\nNEXT='after'\n"))
		if err != nil {
			t.Fatalf("envValue(%q) = %s: read back: %v", v, q, err)
		}
		if got["KEY"] != v || got["NEXT"] != "after" || len(got) != 2 {
			t.Fatalf("envValue(%q) = %s: read back as %q", v, q, got)
		}
	})
}

func TestLogLine(t *testing.T) {
	long := strings.Repeat("é", maxLogText+5)
	tests := []struct {
		name, method, path string
		status             int
		text, want         string
	}{
		{"plain", "POST", "/channels/1/threads", 201, "#1 Login fails", "discord  POST   /channels/1/threads 201 \"#1 Login fails\"\n"},
		{"no text", "GET", "/users/@me", 200, "", "discord  GET    /users/@me 200\n"},
		{"no answer", "GET", "/users/@me", 0, "", "discord  GET    /users/@me ---\n"},
		{"a forged line in the text", "POST", "/x", 200, "hi\ndiscord  GET /y 200", "discord  POST   /x 200 \"hi\\ndiscord  GET /y 200\"\n"},
		{"terminal escapes and a bidi override", "POST", "/x", 200, "\x1b[2J\u202eevil", "discord  POST   /x 200 \"\\x1b[2J\\u202eevil\"\n"},
		{"a path with a space", "GET", "/a b", 404, "", "discord  GET    \"/a b\" 404\n"},
		{"a method with a control character", "G\x07T", "/x", 405, "", "discord  \"G\\aT\" /x 405\n"},
		{"a long text is cut", "POST", "/x", 200, long, "discord  POST   /x 200 \"" + strings.Repeat("é", maxLogText) + "…\"\n"},
	}
	for _, tc := range tests {
		if got := logLine("discord", tc.method, tc.path, tc.status, tc.text); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzLogLine states logLine's rule: whatever a request held, its line is
// valid UTF-8, ends in its only line break, holds no other rune that is
// not graphic, and is at most maxLogLine bytes long.
func FuzzLogLine(f *testing.F) {
	f.Add("POST", "/channels/1/messages", 200, "hello")
	f.Add("G\x00T", "/a\nb", 0, "\x1b]0;title\x07\u202e\xff")
	f.Add(strings.Repeat("\x01", 20), strings.Repeat("\U0010ffff", 200), -1, strings.Repeat("\x7f", 200))
	f.Fuzz(func(t *testing.T, method, path string, status int, text string) {
		line := logLine("gitlab", method, path, status, text)
		if !utf8.ValidString(line) {
			t.Fatalf("not UTF-8: %q", line)
		}
		if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Fatalf("not one line: %q", line)
		}
		for _, r := range strings.TrimSuffix(line, "\n") {
			if !unicode.IsGraphic(r) {
				t.Fatalf("rune %U is not graphic: %q", r, line)
			}
		}
		if len(line) > maxLogLine {
			t.Fatalf("%d bytes, over %d: %q", len(line), maxLogLine, line)
		}
	})
}

// TestRequestLogWaitsForAnswers checks the order and the patience of the
// request log: a request is printed once answered, and one whose answer
// does not come is printed without a status after inFlightWait, counted
// from when the log first saw it unanswered.
func TestRequestLogWaitsForAnswers(t *testing.T) {
	w, err := start("127.0.0.1:0", "127.0.0.1:0", "http://"+freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	get := func(path string) {
		req, err := http.NewRequest(http.MethodGet, w.Discord.URL()+path, nil)
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("Authorization", "Bot "+botToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	var out bytes.Buffer
	lg := &requestLog{out: &out}
	t0 := time.Now()
	step := func(name string, at time.Duration, want string) {
		t.Helper()
		out.Reset()
		lg.follow(w, t0.Add(at))
		if got := out.String(); got != want {
			t.Errorf("%s: printed %q, want %q", name, got, want)
		}
	}

	// A slow answer: not printed while in flight, printed once it came.
	w.Discord.SetDelay(time.Second)
	slow := make(chan struct{})
	go func() { defer close(slow); get("/users/@me") }()
	eventually(t, "the slow request", func() bool { return len(w.Discord.RequestsSince(0)) == 1 })
	step("in flight", 0, "")
	<-slow
	w.Discord.SetDelay(0)
	step("answered", 500*time.Millisecond, "discord  GET    /users/@me 200\n")

	// A lost answer: the wait starts when the log first sees it, not
	// when it saw the slow one.
	w.Discord.LoseNext("GET", "/applications/@me", 1)
	lost := make(chan struct{})
	go func() { defer close(lost); get("/applications/@me") }()
	eventually(t, "the held answer", func() bool { return w.Discord.Held() == 1 })
	get("/guilds/" + guildID) // answered, but after the lost one
	step("lost, first seen", inFlightWait+time.Second, "")
	step("lost, waited less than inFlightWait", 2*inFlightWait, "")
	step("lost, waited inFlightWait", 2*inFlightWait+time.Second,
		"discord  GET    /applications/@me ---\ndiscord  GET    /guilds/"+guildID+" 200\n")
	w.Discord.DropHeld()
	<-lost
}

func TestLocalURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://0.0.0.0:8091/api/v10", "http://127.0.0.1:8091/api/v10"},
		{"http://[::]:8092", "http://127.0.0.1:8092"},
		{"http://127.0.0.1:8091/api/v10", "http://127.0.0.1:8091/api/v10"},
		{"http://192.0.2.1:8092", "http://192.0.2.1:8092"},
	}
	for _, tc := range tests {
		if got := localURL(tc.in); got != tc.want {
			t.Errorf("localURL(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// otherIPv4 is an IPv4 address of this machine that is not loopback, as a
// container reaches the host (host.docker.internal); "" when it has none.
func otherIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}

// TestAllInterfaces: with -all-interfaces (or DEVFAKES_ALL_INTERFACES=1)
// the fakes answer on an address other than loopback, as sam local's
// containers reach them, and .env.fakes still points sdesk at 127.0.0.1;
// without it they answer on loopback only.
func TestAllInterfaces(t *testing.T) {
	ip := otherIPv4(t)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		all  bool
	}{
		{"loopback only", nil, nil, false},
		{"the flag", []string{"-all-interfaces"}, nil, true},
		{"the variable", nil, map[string]string{envAllInterfaces: "1"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			envPath := filepath.Join(t.TempDir(), ".env.fakes")
			ctx, cancel := context.WithCancel(context.Background())
			var out syncBuffer
			done := make(chan error, 1)
			args := append([]string{"-discord", "127.0.0.1:0", "-gitlab", "127.0.0.1:0", "-sdesk", "http://" + freeAddr(t), "-env", envPath}, tc.args...)
			go func() { done <- run(ctx, args, func(k string) string { return tc.env[k] }, &out, io.Discard) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("devfakes: %v", err)
				}
			}()
			var vars map[string]string
			eventually(t, "the env file", func() bool {
				data, err := os.ReadFile(envPath)
				if err != nil {
					return false
				}
				vars, err = config.ParseDotEnv(envPath, data)
				return err == nil
			})
			for _, k := range []string{"DISCORD_API_URL", "GITLAB_URL"} {
				if !strings.HasPrefix(vars[k], "http://127.0.0.1:") {
					t.Errorf("%s: got %q, want the fake on 127.0.0.1", k, vars[k])
				}
			}
			if got := strings.Contains(out.String(), "Both listen on every interface: a container (sam local) reaches them as http://host.docker.internal:"); got != tc.all {
				t.Errorf("output says the fakes listen on every interface: %v, want %v\n%s", got, tc.all, out.String())
			}
			if ip == "" {
				t.Log("no address but loopback: the fakes' reach from elsewhere is not checked")
				return
			}
			u, _ := url.Parse(vars["DISCORD_API_URL"])
			u.Host = net.JoinHostPort(ip, u.Port())
			req, _ := http.NewRequest(http.MethodGet, u.String()+"/users/@me", nil)
			req.Header.Set("Authorization", "Bot "+vars["DISCORD_BOT_TOKEN"])
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
			if err == nil {
				resp.Body.Close()
			}
			if reached := err == nil && resp.StatusCode == http.StatusOK; reached != tc.all {
				t.Errorf("GET %s: got %v, %v; want it answered: %v", u, resp, err, tc.all)
			}
		})
	}
}

// events/env.json, the settings of `sam local`, points the functions at
// `make fakes` as its containers reach it: host.docker.internal at the
// fakes' default ports (with -all-interfaces, they answer there).
func TestEnvJSONUsesTheFakes(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var envJSON map[string]map[string]string
	if err := json.Unmarshal(raw, &envJSON); err != nil {
		t.Fatal(err)
	}
	_, dport, _ := net.SplitHostPort(defaultDiscordAddr)
	_, gport, _ := net.SplitHostPort(defaultGitLabAddr)
	want := map[string]string{
		"DISCORD_API_URL": "http://host.docker.internal:" + dport + "/api/v10",
		"GITLAB_URL":      "http://host.docker.internal:" + gport,
	}
	for _, fn := range []string{"Interactions", "Webhook"} {
		for k, v := range want {
			if got := envJSON[fn][k]; got != v {
				t.Errorf("events/env.json %s %s: got %q, want %q (make fakes)", fn, k, got, v)
			}
		}
	}
}
