package config_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/config"
)

// unsetForTest unsets k for the duration of the test and restores its
// previous state afterwards, so whatever ReadDotEnv sets is undone.
func unsetForTest(t *testing.T, k string) {
	t.Helper()
	t.Setenv(k, "")
	if err := os.Unsetenv(k); err != nil {
		t.Fatalf("Unsetenv(%s): %v", k, err)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadDotEnv(t *testing.T) {
	const file = `# sdesk settings

SDESK_TEST_PLAIN=plain
  SDESK_TEST_SPACED  =  spaced value  
export SDESK_TEST_EXPORTED=exported
SDESK_TEST_INLINE=bolt # the embedded store
SDESK_TEST_INLINE_TAB=dynamodb	# a tab before the comment
SDESK_TEST_HASH=a#b
SDESK_TEST_DOUBLE="double quoted # not a comment"
SDESK_TEST_SINGLE='single quoted $HOME # literal'
SDESK_TEST_QUOTED_COMMENT="quoted" # a comment after quotes
SDESK_TEST_EQUALS=a=b=c
SDESK_TEST_EMPTY=
SDESK_TEST_EMPTY_COMMENT= # nothing set
    # indented comment
SDESK_TEST_PRESET=from file
SDESK_TEST_CRLF=windows` + "\r\n" + `SDESK_TEST_LAST=last`
	want := map[string]string{
		"SDESK_TEST_PLAIN":          "plain",
		"SDESK_TEST_SPACED":         "spaced value",
		"SDESK_TEST_EXPORTED":       "exported",
		"SDESK_TEST_INLINE":         "bolt",
		"SDESK_TEST_INLINE_TAB":     "dynamodb",
		"SDESK_TEST_HASH":           "a#b",
		"SDESK_TEST_DOUBLE":         "double quoted # not a comment",
		"SDESK_TEST_SINGLE":         "single quoted $HOME # literal",
		"SDESK_TEST_QUOTED_COMMENT": "quoted",
		"SDESK_TEST_EQUALS":         "a=b=c",
		"SDESK_TEST_EMPTY":          "",
		"SDESK_TEST_EMPTY_COMMENT":  "",
		"SDESK_TEST_PRESET":         "from process",
		"SDESK_TEST_CRLF":           "windows",
		"SDESK_TEST_LAST":           "last",
	}
	for k := range want {
		unsetForTest(t, k)
	}
	t.Setenv("SDESK_TEST_PRESET", "from process")

	set, err := config.ReadDotEnv(writeFile(t, file))
	if err != nil {
		t.Fatalf("ReadDotEnv: got error %v, want nil", err)
	}
	for k, w := range want {
		got, ok := os.LookupEnv(k)
		if !ok {
			t.Errorf("%s: got unset, want %q", k, w)
			continue
		}
		if got != w {
			t.Errorf("%s: got %q, want %q", k, got, w)
		}
	}
	var wantSet []string
	for k := range want {
		if k != "SDESK_TEST_PRESET" {
			wantSet = append(wantSet, k)
		}
	}
	sort.Strings(wantSet)
	if !slices.Equal(set, wantSet) {
		t.Errorf("ReadDotEnv set: got %v, want %v (every name of the file but the one already set)", set, wantSet)
	}
}

func TestReadDotEnvKeepsEmptyButSetVariable(t *testing.T) {
	t.Setenv("SDESK_TEST_SET_EMPTY", "")
	set, err := config.ReadDotEnv(writeFile(t, "SDESK_TEST_SET_EMPTY=from file\n"))
	if err != nil {
		t.Fatalf("ReadDotEnv: got error %v, want nil", err)
	}
	if got := os.Getenv("SDESK_TEST_SET_EMPTY"); got != "" {
		t.Errorf("SDESK_TEST_SET_EMPTY: got %q, want %q", got, "")
	}
	if len(set) != 0 {
		t.Errorf("ReadDotEnv set: got %v, want none", set)
	}
}

func TestReadDotEnvMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "does-not-exist.env")
	if set, err := config.ReadDotEnv(path); err != nil || set != nil {
		t.Errorf("ReadDotEnv(missing): got %v, %v, want nil, nil", set, err)
	}
}

func TestReadDotEnvMalformed(t *testing.T) {
	tests := []struct {
		name    string
		content string
		line    int
	}{
		{"no equals sign", "SDESK_TEST_OK=1\nJUST_A_WORD s3cr3t\n", 2},
		{"no equals sign on the last line", "SDESK_TEST_OK=1\nJUST_A_WORD", 2},
		{"empty key", "# comment\n\n=s3cr3t\n", 3},
		{"blank key", "SDESK_TEST_OK=1\n   = s3cr3t\n", 2},
		{"export without assignment", "export SDESK_TEST_NOPE\n", 1},
		{"unterminated quote", "SDESK_TEST_OK=1\nSDESK_TEST_Q=\"s3cr3t\nSDESK_TEST_R=2\n", 2},
		{"bad name after a value over two lines", "SDESK_TEST_ML=\"a\nb\"\nSDESK-TEST=s3cr3t\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unsetForTest(t, "SDESK_TEST_OK")
			path := writeFile(t, tt.content)
			_, err := config.ReadDotEnv(path)
			if err == nil {
				t.Fatalf("ReadDotEnv: got nil error, want one naming %s:%d", path, tt.line)
			}
			want := path + ":" + strconv.Itoa(tt.line) + ": "
			if !strings.HasPrefix(err.Error(), want) || !errors.Is(err, config.ErrDotEnv) {
				t.Errorf("ReadDotEnv: got error %q, want it to start with %q and wrap ErrDotEnv", err, want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("ReadDotEnv: got error %q, want none of the file's text in it", err)
			}
		})
	}
}

// FuzzParseDotEnv: whatever a .env file holds, ParseDotEnv either returns
// names made of [A-Za-z0-9_.] only (what os.Setenv can set), or an error
// that is exactly "NAME:N: " + ErrDotEnv's text with 1 <= N <= the number
// of lines, quoting nothing of the file, where the file's first N-1 lines
// do read (N is the line to fix).
func FuzzParseDotEnv(f *testing.F) {
	for _, s := range []string{
		"A=1\n", "A=1 # c\nB='x'\n", "export A=\"a\nb\"\n", "=x\n", "A\n", "A=\"x\n", "A: b\n",
		"A=${B}\nB=$A\n", "#\n\n\t\n", "A=1\r\nB=2", "A=\"\\\"\"\n", "é=1\n", "A.B=1\n",
	} {
		f.Add([]byte(s))
	}
	key := regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.env"
		vars, err := config.ParseDotEnv(name, data)
		if err == nil {
			for k := range vars {
				if !key.MatchString(k) {
					t.Fatalf("ParseDotEnv(%q): got name %q, want [A-Za-z0-9_.]+", data, k)
				}
			}
			return
		}
		if vars != nil {
			t.Fatalf("ParseDotEnv(%q): got %v with error %v, want nil", data, vars, err)
		}
		lines := bytes.SplitAfter(data, []byte("\n"))
		var n int
		if _, scanErr := fmt.Sscanf(err.Error(), name+":%d: ", &n); scanErr != nil || n < 1 || n > len(lines) {
			t.Fatalf("ParseDotEnv(%q): got error %q, want %s:N: with 1 <= N <= %d", data, err, name, len(lines))
		}
		if want := fmt.Sprintf("%s:%d: %s", name, n, config.ErrDotEnv); err.Error() != want || !errors.Is(err, config.ErrDotEnv) {
			t.Fatalf("ParseDotEnv(%q): got error %q, want exactly %q", data, err, want)
		}
		if _, err := config.ParseDotEnv(name, bytes.Join(lines[:n-1], nil)); err != nil {
			t.Fatalf("ParseDotEnv(%q): error names line %d, but the lines before it do not read either: %v", data, n, err)
		}
	})
}

// envExampleNames returns the names .env.example sets or shows commented
// out ("NAME=" or "# NAME=" at the start of a line).
func envExampleNames(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e2e.RepoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(?:# ?)?([A-Z][A-Z0-9_]*)=`)
	var names []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	return names
}

// awsExampleVars are the AWS SDK's variables .env.example shows (commented
// out) besides sdesk's own, for SDESK_STORE=dynamodb.
var awsExampleVars = map[string]bool{"AWS_PROFILE": true, "AWS_REGION": true}

// TestEnvExampleListsEveryVar: .env.example names every variable of
// config.Vars once, and nothing else but awsExampleVars.
func TestEnvExampleListsEveryVar(t *testing.T) {
	names := envExampleNames(t)
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	known := map[string]bool{}
	for _, v := range config.Vars {
		known[v.Name] = true
		if got := count[v.Name]; got != 1 {
			t.Errorf(".env.example: %s appears %d times, want once (set or as a # comment)", v.Name, got)
		}
	}
	for _, n := range names {
		if !known[n] && !awsExampleVars[n] {
			t.Errorf(".env.example names %s: got a variable not in config.Vars, want only config.Vars and %v", n, awsExampleVars)
		}
	}
}

// TestEnvExampleReads: .env.example itself reads, and what it sets with
// the required values filled in loads.
func TestEnvExampleReads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(e2e.RepoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	vars, err := config.ParseDotEnv(".env.example", b)
	if err != nil {
		t.Fatalf("ParseDotEnv(.env.example): %v", err)
	}
	env := minimalEnv()
	for k, v := range vars {
		if v != "" {
			env[k] = v
		}
	}
	if _, err := config.Load(getenv(env)); err != nil {
		t.Errorf("Load(.env.example with the required values): got %v, want nil", err)
	}
}

// portableLine is an assignment every reader of a .env file takes alike:
// an empty value, or a single-quoted one without a quote or line break,
// which godotenv, a POSIX shell and systemd's EnvironmentFile= (see
// systemd.exec(5)) all take literally. An unquoted value is not, as
// systemd keeps a "# comment" after it and a shell splits it at a space
// or a ";".
var portableLine = regexp.MustCompile(`^[A-Z][A-Z0-9_]*=(?:'[^'\r\n]*')?$`)

// TestEnvExampleReadsAlikeEverywhere: .env.example, its commented-out
// assignments included, is written as its header says, so that sdesk, a
// shell (`set -a; . file`, as the README starts webhook) and systemd
// (docs/sdesk.service's EnvironmentFile=) read the same values: every
// line is blank, a comment starting with #, or a portableLine; and
// sdesk's reader and /bin/sh give the same value to every name.
func TestEnvExampleReadsAlikeEverywhere(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(e2e.RepoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	assignment := regexp.MustCompile(`^# ?([A-Z][A-Z0-9_]*=.*)$`)
	var lines []string
	for n, line := range strings.Split(string(b), "\n") {
		if m := assignment.FindStringSubmatch(line); m != nil {
			line = m[1] // the commented-out example, as it reads once uncommented
		}
		switch {
		case line == "", strings.HasPrefix(line, "#"):
			continue
		case !portableLine.MatchString(line):
			t.Errorf(".env.example:%d: %q: want NAME= or NAME='value' (no quote inside), which sdesk, systemd and a shell read alike", n+1, line)
			continue
		}
		lines = append(lines, line)
	}
	file := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	want, err := config.ParseDotEnv(file, data)
	if err != nil {
		t.Fatalf("ParseDotEnv of the uncommented .env.example: %v", err)
	}
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	// The shell prints each value between NUL bytes: a value cannot hold
	// one.
	script := `set -a; . "$1"; shift; for n in "$@"; do eval "v=\${$n}"; printf '%s\0%s\0' "$n" "$v"; done`
	out, err := exec.Command("/bin/sh", append([]string{"-c", script, "sh", file}, names...)...).Output()
	if err != nil {
		t.Fatalf("/bin/sh reading the uncommented .env.example: %v", err)
	}
	fields := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(fields) != 2*len(names) {
		t.Fatalf("/bin/sh printed %d fields, want %d", len(fields), 2*len(names))
	}
	for i := 0; i < len(fields); i += 2 {
		if got := fields[i+1]; got != want[fields[i]] {
			t.Errorf("%s: sh reads %q, sdesk reads %q", fields[i], got, want[fields[i]])
		}
	}
}
