package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/chaos"
	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Flags of the chaos run (`make chaos` sets a large one; `make test` runs
// the defaults).
var (
	chaosSeed    = flag.Int64("chaos.seed", 1, "seed of the chaos run's plan and faults; 0 picks one from the clock (printed)")
	chaosOps     = flag.Int("chaos.ops", 60, "operations in the chaos run")
	chaosKills   = flag.Int("chaos.kills", 1, "times sdesk serve is killed (SIGKILL) and restarted mid-run")
	chaosRate    = flag.Float64("chaos.rate", 0.2, "share of Discord and GitLab requests that get a fault")
	chaosWorkers = flag.Int("chaos.workers", 6, "reports driven in parallel")
	chaosSettle  = flag.Duration("chaos.settle", time.Minute, "longest wait, after the last op, for the checks to pass")
	chaosLogs    = flag.String("chaos.logs", "", "file to keep sdesk's log in (default: a temporary file, excerpts printed on failure)")
)

// sdeskProcess runs `sdesk serve` as a child process (the test binary with
// SDESK_E2E_SERVE=1, see TestMain) that can be killed with SIGKILL and
// started again on the same bbolt file.
type sdeskProcess struct {
	env  *e2e.Env
	logw *lockedWriter
	url  atomic.Value // string: the running process's base URL

	mu  sync.Mutex
	cmd *exec.Cmd
	n   int
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// start starts a new process and waits until it serves.
func (p *sdeskProcess) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	fmt.Fprintf(p.logw, "{\"msg\":\"chaos: sdesk process %d starting\",\"time\":%q}\n", p.n, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SDESK_E2E_SERVE=1")
	for k, v := range p.env.Vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("stderr pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sdesk: %w", err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = p.logw.Write(append(line, '\n'))
			var l struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &l) == nil && l.Msg == "sdesk serving" {
				select {
				case addr <- l.Addr:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		p.url.Store("http://" + a)
		p.cmd = cmd
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return errors.New("sdesk did not start within 30 s")
	}
}

// kill sends SIGKILL to the running process and waits for it to end.
func (p *sdeskProcess) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
	fmt.Fprintf(p.logw, "{\"msg\":\"chaos: sdesk process %d killed\",\"time\":%q}\n", p.n, time.Now().Format(time.RFC3339Nano))
}

// TestChaos is the chaos run (issue 8, item 9): sdesk serve on bbolt,
// behind proxies that fail a share of Discord and GitLab requests (429 with
// retry_after, 5xx, timeouts, dropped connections, before and after the
// effect), driven by a seeded plan of reports, replies, closes, GitLab notes,
// edits, label, title and state changes, duplicate deliveries under fresh
// Idempotency-Keys and replayed interactions, and killed with SIGKILL
// mid-run. At the end the fakes must show every effect exactly once and the
// store no pending job. `make chaos` runs it with 500 operations and two
// kills; the defaults are the small run of `make test`.
func TestChaos(t *testing.T) {
	seed := *chaosSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_000
	}
	plan := chaos.NewPlan(seed, *chaosOps)
	repro := fmt.Sprintf("go test ./cmd/sdesk -run '^TestChaos$' -count=1 -v -timeout 60m -args -chaos.seed=%d -chaos.ops=%d -chaos.kills=%d -chaos.rate=%g -chaos.workers=%d -chaos.settle=%s",
		seed, len(plan.Ops), *chaosKills, *chaosRate, *chaosWorkers, *chaosSettle)
	t.Logf("chaos seed %d; reproduce with: %s", seed, repro)

	env := e2e.New(t)
	dproxy := chaos.NewProxy(t, strings.TrimSuffix(env.Discord.URL(), discordfake.APIPrefix),
		chaos.Options{Name: "discord", Flavor: chaos.Discord, Seed: seed, Rate: *chaosRate})
	gproxy := chaos.NewProxy(t, env.GitLab.URL(), chaos.Options{Name: "gitlab", Flavor: chaos.GitLab, Seed: seed, Rate: *chaosRate})
	env.Vars["DISCORD_API_URL"] = dproxy.URL() + discordfake.APIPrefix
	env.Vars["GITLAB_URL"] = gproxy.URL()

	logPath := *chaosLogs
	if logPath == "" {
		logPath = filepath.Join(t.TempDir(), "sdesk.log")
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	proc := &sdeskProcess{env: env, logw: &lockedWriter{w: logFile}}
	if err := proc.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.kill)

	var killAt []int
	for k := 1; k <= *chaosKills; k++ {
		killAt = append(killAt, len(plan.Ops)*k/(*chaosKills+1)+1)
	}
	bound := 3*time.Minute + time.Duration(len(plan.Ops))*2*time.Second + *chaosSettle
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	w := chaos.Run(ctx, chaos.Config{
		Plan:    plan,
		Env:     env,
		Target:  chaos.HTTPTarget{URL: func() string { return proc.url.Load().(string) }},
		Workers: *chaosWorkers,
		KillAt:  killAt,
		Kill: func(context.Context) (string, error) {
			// Kill while sdesk waits on Discord or GitLab, if it does
			// within 3 s: an effect may have happened without its record.
			var inFlight []string
			deadline := time.Now().Add(3 * time.Second)
			for len(inFlight) == 0 && time.Now().Before(deadline) {
				inFlight = append(dproxy.InFlight(), gproxy.InFlight()...)
				if len(inFlight) == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
			proc.kill()
			what := fmt.Sprintf("SIGKILL with %d requests in flight %v", len(inFlight), inFlight)
			return what, proc.start()
		},
		Proxies: []*chaos.Proxy{dproxy, gproxy},
		Settle:  *chaosSettle,
		Logf:    t.Logf,
	})
	if ctx.Err() != nil {
		t.Errorf("the run did not finish within %s", bound)
	}

	// bbolt holds one process: stop sdesk, then read its jobs.
	proc.kill()
	snap := chaos.Capture(env, w)
	jobs, err := readJobs(env.Vars["SDESK_BOLT_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	snap.Jobs = jobs
	res := w.Check(snap)

	t.Logf("\n%s\ndiscord proxy: %s\ngitlab proxy: %s", w.Report(res), dproxy.Stats(), gproxy.Stats())
	logs, _ := os.ReadFile(logPath)
	if _, race, ok := strings.Cut(string(logs), "WARNING: DATA RACE"); ok {
		lines := strings.SplitN(race, "\n", 80)
		t.Errorf("sdesk reported a data race:\n%s", strings.Join(lines[:len(lines)-1], "\n"))
	}
	if !res.Failed() {
		return
	}
	if ex := w.Excerpts(res, string(logs), 30); ex != "" {
		t.Logf("%s", ex)
	}
	var faults []string
	for _, p := range []*chaos.Proxy{dproxy, gproxy} {
		for _, f := range p.Faults() {
			faults = append(faults, f.String())
		}
	}
	if len(faults) > 60 {
		faults = append(faults[:60], fmt.Sprintf("… and %d more", len(faults)-60))
	}
	t.Logf("faults injected (discord, then gitlab):\n%s", strings.Join(faults, "\n"))
	lost, doubled := res.Lost()
	t.Errorf("chaos run (seed %d) broke %d rules: %d lost, %d doubled; reproduce with: %s", seed, len(res.Violations), lost, doubled, repro)
}

// readJobs lists the unfinished jobs in the bbolt file.
func readJobs(path string) (*chaos.Jobs, error) {
	st, err := bolt.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pending, err := st.ListJobs(ctx, sdesk.JobPending)
	if err != nil {
		return nil, fmt.Errorf("list pending jobs: %w", err)
	}
	failed, err := st.ListJobs(ctx, sdesk.JobFailed)
	if err != nil {
		return nil, fmt.Errorf("list failed jobs: %w", err)
	}
	return &chaos.Jobs{Pending: pending, Failed: failed}, nil
}
