// Package scripts_test checks the shell scripts the Makefile runs.
package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGo plays `go test` for scripts/fuzz.sh: $SCENARIO says how the
// fuzzing run ends, and a re-run of a written input fails only for a
// real finding.
const fakeGo = `#!/usr/bin/env bash
dir=$2
f=$(printf '%s\n' "$@" | sed -n 's/^\^\(Fuzz[A-Za-z]*\)\$$/\1/p')
case " $* " in
*" -fuzz "*)
  case $SCENARIO in
  ok) exit 0 ;;
  finding)
    mkdir -p "$dir/testdata/fuzz/$f" && echo 'go test fuzz v1' >"$dir/testdata/fuzz/$f/0badc0de"
    printf -- "--- FAIL: $f (0.10s)\n    --- FAIL: $f (0.00s)\n        x_test.go:9: boom\n    Failing input written to testdata/fuzz/$f/0badc0de\n"
    exit 1 ;;
  deadline)
    printf -- "fuzz: elapsed: 5s, execs: 100 (0/sec)\n--- FAIL: $f (5.01s)\n    context deadline exceeded\n"
    exit 1 ;;
  minimize)
    mkdir -p "$dir/testdata/fuzz/$f" && echo 'go test fuzz v1' >"$dir/testdata/fuzz/$f/5pur10u5"
    printf -- "--- FAIL: $f (5.20s)\n    fuzzing process hung or terminated unexpectedly while minimizing: EOF\n    Failing input written to testdata/fuzz/$f/5pur10u5\n"
    exit 1 ;;
  build)
    printf 'pkg/x/x_test.go:3:1: syntax error\n'
    exit 1 ;;
  silent) exit 1 ;;
  esac ;;
*" -run "*)
  [ "$SCENARIO" != finding ] ;;
esac
`

func TestFuzzScript(t *testing.T) {
	script, err := os.ReadFile("fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		scenario  string
		wantOK    bool
		wantOut   string
		wantInput bool // the written input is still there afterwards
	}{
		{"ok", true, "fuzz ./pkg/z FuzzZ", false},
		{"finding", false, "failing input: ./pkg/z/testdata/fuzz/FuzzZ/0badc0de", true},
		{"deadline", true, "not a finding", false},
		{"minimize", true, "not a finding", false},
		{"build", false, "syntax error", false},
		{"silent", false, "fuzz ./pkg/z FuzzZ failed", false}, // nothing printed: still named, and the next target runs
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range map[string]string{
				"scripts/fuzz.sh":  string(script),
				"bin/go":           fakeGo,
				"pkg/x/x_test.go":  "package x\n\nfunc FuzzX(f *testing.F) {}\n",
				"pkg/z/z_test.go":  "package z\n\nfunc FuzzZ(f *testing.F) {}\n",
				"pkg/y/y_test.go":  "package y\n\nfunc TestY(t *testing.T) {}\n",
				"pkg/x/testdata/k": "",
			} {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("bash", filepath.Join(root, "scripts", "fuzz.sh"))
			cmd.Env = append(os.Environ(), "GO="+filepath.Join(root, "bin", "go"), "SCENARIO="+tt.scenario)
			out, err := cmd.CombinedOutput()
			if gotOK := err == nil; gotOK != tt.wantOK {
				t.Errorf("fuzz.sh: got success %v (%v), want %v\n%s", gotOK, err, tt.wantOK, out)
			}
			if !strings.Contains(string(out), tt.wantOut) {
				t.Errorf("fuzz.sh output: got\n%s\nwant it to contain %q", out, tt.wantOut)
			}
			inputs, _ := filepath.Glob(filepath.Join(root, "pkg/*/testdata/fuzz/Fuzz*/*"))
			if got := len(inputs) > 0; got != tt.wantInput {
				t.Errorf("written input kept: got %v, want %v", got, tt.wantInput)
			}
		})
	}
}
