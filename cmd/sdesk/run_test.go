package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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
// warn unless SDESK_LOG_LEVEL is set (the hook's request line is info).
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
			out, errOut, err := admin(t, env, "hook", `{"object_kind":"push","project":{"id":1}}`)
			if err != nil || !strings.HasPrefix(out, "ignored") {
				t.Fatalf("hook: got %q, %v, want ignored", out, err)
			}
			if strings.Contains(out, "msg=") || strings.Contains(errOut, `{"time"`) {
				t.Errorf("hook: got stdout %q, stderr %q, want logs on stderr only, as text", out, errOut)
			}
			if got := strings.Contains(errOut, "level=INFO msg=request"); got != tt.wantLogs {
				t.Errorf("hook stderr: got %q, want its info request line: %v", errOut, tt.wantLogs)
			}
		})
	}
}
