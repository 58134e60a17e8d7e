package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
)

// `sdesk config` prints every variable and whether it is set, then checks
// them as serve does: problems are listed and the command fails.
func TestConfigCommand(t *testing.T) {
	env := e2e.New(t)
	out, _, err := admin(t, env, "config")
	if err != nil {
		t.Fatalf("sdesk config on a valid configuration: got %v, want nil\n%s", err, out)
	}
	for _, v := range config.Vars {
		if !strings.Contains(out, v.Name) {
			t.Errorf("sdesk config: got no %s in\n%s", v.Name, out)
		}
	}
	if !strings.Contains(out, "configuration OK") {
		t.Errorf("sdesk config: got %q, want it to say the configuration is OK", out)
	}

	delete(env.Vars, "GITLAB_TOKEN")
	env.Vars["SDESK_STORE"] = "dynamodb"
	out, _, err = admin(t, env, "config")
	if err == nil || !strings.Contains(err.Error(), "2 problems") {
		t.Errorf("sdesk config with two problems: got %v, want an error counting 2 problems", err)
	}
	for _, want := range []string{"DISCORD_APPLICATION_ID", "  - GITLAB_TOKEN is required", "  - SDESK_TABLE is required when SDESK_STORE=dynamodb"} {
		if !strings.Contains(out, want) {
			t.Errorf("sdesk config with two problems: got\n%s\nwant it to contain %q", out, want)
		}
	}
}

// `sdesk config` shows each value set, but the secrets, and warns (without
// failing) of a variable that looks like one of sdesk's but is not read,
// naming the one likely meant.
func TestConfigCommandValuesAndTypos(t *testing.T) {
	env := e2e.New(t)
	env.Vars["SDESK_CATEGORIES"] = "Bug=bug;Question=question"
	environ := []string{"PATH=/bin", "DISCROD_STAFF_ROLE_ID=1", "SDESK_STOR=dynamodb", "GITLAB_CI=true",
		"SDESK_HOOK_FILE=/tmp/x", "SDESK_STORE=bolt"}
	var out bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &bytes.Buffer{}, Getenv: env.Getenv, Environ: func() []string { return environ }}
	if err := m.Run(t.Context(), []string{"config"}); err != nil {
		t.Fatalf("sdesk config: got %v, want nil (unknown variables only warn)\n%s", err, out.String())
	}
	rows := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line
		}
	}
	for name, want := range map[string]string{
		"GITLAB_PROJECT":         env.Vars["GITLAB_PROJECT"],
		"DISCORD_APPLICATION_ID": env.Vars["DISCORD_APPLICATION_ID"],
		"SDESK_CATEGORIES":       "Bug=bug;Question=question",
	} {
		if !strings.HasSuffix(rows[name], "  "+want) {
			t.Errorf("sdesk config: row %q, want it to end with the value %q", rows[name], want)
		}
	}
	for _, name := range []string{"DISCORD_BOT_TOKEN", "GITLAB_TOKEN", "GITLAB_WEBHOOK_SECRET"} {
		if v := env.Vars[name]; v == "" || strings.Contains(out.String(), v) {
			t.Errorf("sdesk config shows the value of %s (%q), want it masked:\n%s", name, v, out.String())
		}
		if !strings.Contains(rows[name], "(secret, not shown)") {
			t.Errorf("sdesk config: row %q, want (secret, not shown)", rows[name])
		}
	}
	for _, want := range []string{
		"warning: DISCROD_STAFF_ROLE_ID is set, but sdesk reads no such variable: did you mean DISCORD_STAFF_ROLE_ID?",
		"warning: SDESK_STOR is set, but sdesk reads no such variable: did you mean SDESK_STORE?",
		"warning: GITLAB_CI is set, but sdesk reads no such variable (README, Configuration, lists every variable)",
		"configuration OK",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("sdesk config: want %q in\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "SDESK_HOOK_FILE is set") {
		t.Errorf("sdesk config warns of SDESK_HOOK_FILE, which sdesk hook reads:\n%s", out.String())
	}
}

// Every command reads .env into the environment, which wins; `sdesk
// config` says which variables came from the file.
func TestDotEnvFile(t *testing.T) {
	env := e2e.New(t)
	dir := t.TempDir()
	var file strings.Builder
	for k, v := range env.Vars {
		if k != "SDESK_ADDR" {
			file.WriteString(k + "=" + v + " # from the file\n")
		}
	}
	file.WriteString("SDESK_ADDR=file-addr:1\n")
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for k := range env.Vars {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("SDESK_ADDR", "127.0.0.1:0") // the environment wins over .env
	var out bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &bytes.Buffer{}, Getenv: os.Getenv, EnvFile: path}
	if err := m.Run(context.Background(), []string{"config"}); err != nil {
		t.Fatalf("sdesk config with .env: got %v, want nil (inline comments dropped)\n%s", err, out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "GITLAB_TOKEN":
			if !strings.Contains(line, "yes ("+path+")") {
				t.Errorf("sdesk config: got %q, want GITLAB_TOKEN set from %s", line, path)
			}
		case "SDESK_ADDR":
			if strings.Contains(line, path) || !strings.Contains(line, "yes") {
				t.Errorf("sdesk config: got %q, want SDESK_ADDR set by the environment", line)
			}
		}
	}
	if got := os.Getenv("SDESK_ADDR"); got != "127.0.0.1:0" {
		t.Errorf("SDESK_ADDR: got %q, want the environment's", got)
	}
}

// A bbolt file held by a running serve: the admin command fails at once,
// naming SDESK_BOLT_PATH and what to do.
func TestAdminCommandBoltLocked(t *testing.T) {
	env := e2e.New(t)
	serve(t, env)
	_, _, err := admin(t, env, "jobs", "list")
	if !errors.Is(err, bolt.ErrLocked) {
		t.Fatalf("jobs list while serve runs: got %v, want ErrLocked", err)
	}
	for _, want := range []string{"SDESK_BOLT_PATH " + env.Vars["SDESK_BOLT_PATH"], "sdesk serve", "stop it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("jobs list while serve runs: got %q, want it to contain %q", err, want)
		}
	}

	env.Vars["SDESK_BOLT_PATH"] = filepath.Join(t.TempDir(), "missing", "sdesk.db")
	_, _, err = admin(t, env, "jobs", "list")
	if err == nil || !strings.Contains(err.Error(), "SDESK_BOLT_PATH") || !strings.Contains(err.Error(), "directory does not exist") {
		t.Errorf("jobs list in a missing directory: got %v, want an error naming SDESK_BOLT_PATH and the directory", err)
	}
}

// A DynamoDB table that does not exist: the error names SDESK_TABLE and
// the fix, not only the SDK's ResourceNotFoundException.
func TestAdminCommandMissingTable(t *testing.T) {
	env := e2e.New(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	env.Vars["SDESK_STORE"] = "dynamodb"
	env.Vars["SDESK_TABLE"] = "sdesk-no-such-table"
	env.Vars["DYNAMODB_ENDPOINT"] = dynamotest.Endpoint(t)
	_, _, err := admin(t, env, "jobs", "list")
	if !errors.Is(err, dynamo.ErrNoTable) || !strings.Contains(err.Error(), "SDESK_TABLE") || !strings.Contains(err.Error(), "make local") {
		t.Errorf("jobs list on a missing table: got %v, want ErrNoTable naming SDESK_TABLE and make local", err)
	}
	err = (&Main{Stderr: &bytes.Buffer{}, Getenv: env.Getenv}).Run(t.Context(), []string{"serve"})
	if !errors.Is(err, dynamo.ErrNoTable) {
		t.Errorf("serve on a missing table: got %v, want ErrNoTable at start", err)
	}
}

// Admin commands print plain text: their logs go to stderr as text, at
// warn unless SDESK_LOG_LEVEL is set (the hook's outcome line is info, in
// words: no HTTP request line).
func TestAdminLogs(t *testing.T) {
	tests := []struct {
		level    string
		wantLogs bool
	}{
		{"", false},
		{"info", true},
	}
	for _, tt := range tests {
		t.Run("SDESK_LOG_LEVEL="+tt.level, func(t *testing.T) {
			env := e2e.New(t)
			env.Vars["SDESK_LOG_LEVEL"] = tt.level
			out, errOut, err := admin(t, env, "hook", "-token", env.Vars["GITLAB_WEBHOOK_SECRET"], `{"object_kind":"push","project":{"id":1}}`)
			if err != nil || !strings.HasPrefix(out, "ignored") {
				t.Fatalf("hook: got %q, %v, want ignored", out, err)
			}
			if strings.Contains(out, "msg=") || strings.Contains(errOut, `{"time"`) {
				t.Errorf("hook: got stdout %q, stderr %q, want logs on stderr only, as text", out, errOut)
			}
			if got := strings.Contains(errOut, `level=INFO msg="event ignored"`); got != tt.wantLogs {
				t.Errorf("hook stderr: got %q, want its info outcome line: %v", errOut, tt.wantLogs)
			}
			if strings.Contains(errOut, "msg=request") || strings.Contains(errOut, "status=") {
				t.Errorf("hook stderr: got %q, want the outcome in words, not an HTTP request line", errOut)
			}
		})
	}
}

// unitSettings reads a systemd unit's Key=Value lines (all sections), in
// order, and its comment lines.
func unitSettings(t *testing.T, text string) (settings [][2]string, comments []string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			comments = append(comments, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		case strings.HasPrefix(line, "["), strings.TrimSpace(line) == "":
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("docs/sdesk.service: line %q is not Key=Value", line)
			}
			settings = append(settings, [2]string{k, v})
		}
	}
	return settings, comments
}

// TestSystemdUnit: docs/sdesk.service and the setup around it agree. The
// README sections its header cites exist; its Documentation= file is one
// the install steps put there; the bbolt file is an absolute path in its
// StateDirectory; .env.example, the env file's template, sets none of the
// variables the unit sets (EnvironmentFile= would win over them); it runs
// as a fixed user, whose state directory docs/hooks.json may use as its
// working directory (a DynamicUser='s is under /var/lib/private, root
// only); and the admin command of its header runs with the unit's user,
// env file and working directory.
func TestSystemdUnit(t *testing.T) {
	root := e2e.RepoRoot(t)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	unit, readme := read("docs/sdesk.service"), read("README.md")
	settings, comments := unitSettings(t, unit)
	get := func(key string) []string {
		var out []string
		for _, s := range settings {
			if s[0] == key {
				out = append(out, s[1])
			}
		}
		return out
	}
	header := strings.Join(comments, "\n")

	for _, m := range regexp.MustCompile(`README\.md, "([^"]+)"`).FindAllStringSubmatch(header, -1) {
		if !regexp.MustCompile(`(?m)^#+ ` + regexp.QuoteMeta(m[1]) + `$`).MatchString(readme) {
			t.Errorf("docs/sdesk.service cites README section %q, which README.md does not have", m[1])
		}
	}
	for _, d := range get("Documentation") {
		path, ok := strings.CutPrefix(d, "file://")
		if ok && !regexp.MustCompile(`(?m)^install .* `+regexp.QuoteMeta(path)+`\b`).MatchString(header) {
			t.Errorf("Documentation=%s: no install step of the header puts a file at %s", d, path)
		}
	}

	state := get("StateDirectory")
	if len(state) != 1 {
		t.Fatalf("StateDirectory: got %v, want one", state)
	}
	stateDir := "/var/lib/" + state[0]
	unitVars := map[string]string{}
	for _, e := range get("Environment") {
		k, v, _ := strings.Cut(e, "=")
		unitVars[k] = v
	}
	if p := unitVars["SDESK_BOLT_PATH"]; !strings.HasPrefix(p, stateDir+"/") || filepath.Clean(p) != p {
		t.Errorf("Environment=SDESK_BOLT_PATH=%s: want an absolute path in %s", p, stateDir)
	}
	if wd := get("WorkingDirectory"); len(wd) != 1 || wd[0] != stateDir {
		t.Errorf("WorkingDirectory: got %v, want %s (where a relative SDESK_BOLT_PATH lands)", wd, stateDir)
	}
	example, err := config.ParseDotEnv(".env.example", []byte(read(".env.example")))
	if err != nil {
		t.Fatal(err)
	}
	for k := range unitVars {
		if _, set := example[k]; set {
			t.Errorf(".env.example sets %s, which would win over the unit's Environment=%s=%s", k, k, unitVars[k])
		}
	}

	user := get("User")
	if len(user) != 1 || len(get("DynamicUser")) != 0 {
		t.Errorf("User %v, DynamicUser %v: want a fixed User= and no DynamicUser=", user, get("DynamicUser"))
	}
	var hooks []hookDef
	if err := json.Unmarshal([]byte(strings.ReplaceAll(read("docs/hooks.json"), `{{ getenv "GITLAB_WEBHOOK_SECRET" | printf "%q" }}`, `""`)), &hooks); err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0].WorkDir != stateDir {
		t.Errorf("docs/hooks.json command-working-directory: got %+v, want %s", hooks, stateDir)
	}

	run := regexp.MustCompile(`systemd-run [^\n]*\n[^\n]*\n[^\n]*`).FindString(header)
	envFile := get("EnvironmentFile")
	defaults := `-p Environment="` + strings.Join(get("Environment"), " ") + `"`
	for _, want := range []string{"--uid=" + strings.Join(user, ""), "--working-directory=" + stateDir, defaults,
		"-p EnvironmentFile=" + strings.Join(envFile, ""), "sdesk jobs list"} {
		if !strings.Contains(run, want) {
			t.Errorf("the header's admin command %q: want %q, as the unit runs", run, want)
		}
	}
}

// An admin command on DynamoDB without AWS credentials names the fix, and
// the SDK's own log lines (IMDS "falling back to IMDSv1") reach neither
// the process's standard error nor the command's log at warn: they are
// debug lines of the command's log. The instance metadata service is a
// fake that refuses IMDSv2 tokens (403) and has no role.
func TestAdminCommandAWSCredentials(t *testing.T) {
	var imdsCalls atomic.Int32
	imdsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		imdsCalls.Add(1)
		if r.Method == http.MethodPut {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		http.NotFound(w, r)
	}))
	defer imdsSrv.Close()
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME": home, "AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_SERVICE_ENDPOINT": imdsSrv.URL, "AWS_EC2_METADATA_DISABLED": "", "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_DYNAMODB": "",
	} {
		t.Setenv(k, v)
	}
	for _, level := range []string{"", "debug"} {
		t.Run("SDESK_LOG_LEVEL="+level, func(t *testing.T) {
			env := e2e.New(t)
			env.Vars["SDESK_STORE"] = "dynamodb"
			env.Vars["SDESK_TABLE"] = "sdesk-test"
			env.Vars["SDESK_LOG_LEVEL"] = level
			delete(env.Vars, "DYNAMODB_ENDPOINT")

			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			stderr := os.Stderr
			os.Stderr = w
			_, errOut, err := admin(t, env, "jobs", "list")
			os.Stderr = stderr
			w.Close()
			processErr, _ := io.ReadAll(r)

			if !errors.Is(err, errNoAWSCredentials) || !strings.Contains(err.Error(), "AWS_PROFILE") || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
				t.Errorf("jobs list without credentials: got %v, want the fix (AWS_PROFILE, AWS_ACCESS_KEY_ID) first", err)
			}
			if imdsCalls.Load() == 0 {
				t.Fatal("the fake instance metadata service was not asked: this test proves nothing")
			}
			if len(processErr) != 0 {
				t.Errorf("the process's standard error: got %q, want nothing (the SDK's lines go to the command's log)", processErr)
			}
			gotSDK := strings.Contains(errOut, "level=DEBUG msg=\"falling back to IMDSv1") && strings.Contains(errOut, "source=aws-sdk")
			if gotSDK != (level == "debug") {
				t.Errorf("the command's log: got %q, want the SDK's lines as debug lines only at SDESK_LOG_LEVEL=debug", errOut)
			}
		})
	}
	t.Run("no region", func(t *testing.T) {
		t.Setenv("AWS_REGION", "")
		t.Setenv("AWS_DEFAULT_REGION", "")
		env := e2e.New(t)
		env.Vars["SDESK_STORE"] = "dynamodb"
		env.Vars["SDESK_TABLE"] = "sdesk-test"
		delete(env.Vars, "DYNAMODB_ENDPOINT")
		_, _, err := admin(t, env, "jobs", "list")
		if !errors.Is(err, errNoAWSRegion) || !strings.Contains(err.Error(), "set AWS_REGION") {
			t.Errorf("jobs list without a region: got %v, want the fix (AWS_REGION)", err)
		}
	})
}
