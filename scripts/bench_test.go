package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBenchGo plays `go test` for scripts/bench.sh: the table run
// (-run '^TestBench$') and the Benchmark* run (-bench .) end as $SCENARIO
// says.
const fakeBenchGo = `#!/usr/bin/env bash
case " $* " in
*" ./internal/bench "*)
  echo "=== RUN   TestBench"
  echo "measure  sdesk  floor"
  echo "cold start  9 ms  hello-world 4 ms"
  if [ "$SCENARIO" = table ]; then
    echo "--- FAIL: TestBench (1.00s)"
    echo "    run_test.go:99: lost events"
    echo FAIL
    exit 1
  fi
  echo "--- PASS: TestBench (1.00s)"
  echo PASS
  echo "ok  	github.com/sdesk/sdesk/internal/bench	1.0s"
  ;;
*" -bench "*)
  echo "goos: linux"
  echo "BenchmarkRender-2   	 700	 1963674 ns/op"
  if [ "$SCENARIO" = benchmarks ]; then
    echo "--- FAIL: BenchmarkSplit"
    echo "    render_test.go:12: boom"
    echo "FAIL	github.com/sdesk/sdesk/pkg/discordmd	1.0s"
    exit 1
  fi
  echo "ok  	github.com/sdesk/sdesk/pkg/discordmd	1.0s"
  ;;
*) echo "unexpected: $*"; exit 2 ;;
esac
`

func TestBenchScript(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(t.TempDir(), "go")
	if err := os.WriteFile(fake, []byte(fakeBenchGo), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		scenario string
		wantOK   bool
		want     []string
		notWant  []string
	}{
		{"ok", true, []string{"cold start  9 ms", "BenchmarkRender-2", "make bench took"}, []string{"=== RUN", "--- PASS", "goos:"}},
		{"table", false, []string{"--- FAIL: TestBench", "lost events"}, []string{"BenchmarkRender", "make bench took"}},
		{"benchmarks", false, []string{"BenchmarkRender-2", "--- FAIL: BenchmarkSplit", "render_test.go:12: boom", "go test -bench failed"}, []string{"make bench took"}},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			cmd := exec.Command("bash", filepath.Join(root, "scripts", "bench.sh"))
			cmd.Env = append(os.Environ(), "GO="+fake, "SCENARIO="+tt.scenario, "BENCH_OUT="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if gotOK := err == nil; gotOK != tt.wantOK {
				t.Errorf("bench.sh: got success %v (%v), want %v\n%s", gotOK, err, tt.wantOK, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output: got\n%s\nwant it to contain %q", out, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(string(out), w) {
					t.Errorf("output: got\n%s\nwant no %q", out, w)
				}
			}
		})
	}
}
