package bench_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/bench"
	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
)

// Flags of the load test (`make load`).
var (
	loadRun      = flag.Bool("load.run", false, "run TestLoad (make load)")
	loadRate     = flag.Float64("load.rate", 40, "requests per second, all kinds together")
	loadDuration = flag.Duration("load.duration", 30*time.Second, "how long requests are sent")
	loadStore    = flag.String("load.store", "bolt", "store of sdesk serve: bolt, or dynamodb (DYNAMODB_ENDPOINT)")
	loadSeeds    = flag.Int("load.seeds", 24, "reports made before the load, whose threads the replies and webhooks use")
	loadSettle   = flag.Duration("load.settle", 2*time.Minute, "longest wait, after the load, for every effect to land")
)

// Discord and GitLab give up on an answer after these.
const (
	interactionDeadline = 3 * time.Second  // Discord: "The application did not respond"
	webhookDeadline     = 10 * time.Second // gitlab.com's webhook timeout
)

// seed is a report made before the load.
type seed struct {
	iid      int
	thread   string
	reporter e2e.User
}

var issueRE = regexp.MustCompile(`Issue #([0-9]+) created`)

// TestLoad is `make load`: a bounded load on `sdesk serve` (a build of
// ./cmd/sdesk, on loopback, with the Discord and GitLab fakes): signed
// interactions (/report form submits, /reply, the autocomplete of /close's
// issue option, /issues) and GitLab note webhooks, mixed, at a fixed rate
// for a fixed time, with the per-member limits at their defaults (3 open
// reports, 60 s between reports): their refusals are expected, every other
// answer must be sdesk's acceptance, in time (3 s for Discord, 10 s for
// GitLab). Then every accepted request's effect must land: the issues, the
// notes, the Discord messages.
func TestLoad(t *testing.T) {
	if !*loadRun {
		t.Skip("make load runs it: go test ./internal/bench -run '^TestLoad$' -args -load.run")
	}
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "sdesk")
	if err := (bench.Build{Pkg: "./cmd/sdesk", Out: bin}).Run(ctx, "go", e2e.RepoRoot(t)); err != nil {
		t.Fatal(err)
	}
	env := e2e.New(t)
	env.Vars["SDESK_LOG_LEVEL"] = "info"
	env.Vars["SDESK_MAX_OPEN_REPORTS"] = "3"
	env.Vars["SDESK_REPORT_COOLDOWN"] = "60s"
	switch *loadStore {
	case "bolt":
	case "dynamodb":
		_, table := dynamotest.NewTable(t)
		env.Vars["SDESK_STORE"] = "dynamodb"
		env.Vars["SDESK_TABLE"] = table
		env.Vars["DYNAMODB_ENDPOINT"] = os.Getenv(dynamotest.EnvEndpoint)
		env.Vars["AWS_ACCESS_KEY_ID"], env.Vars["AWS_SECRET_ACCESS_KEY"], env.Vars["AWS_REGION"] = "load", "load", "us-east-1"
	default:
		t.Fatalf("-load.store=%s: want bolt or dynamodb", *loadStore)
	}
	srv, err := bench.StartServe(ctx, bin, env.Vars, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Kill)
	client := bench.NewHTTPClient(64, 30*time.Second)
	interact := func(ctx context.Context, in e2e.Interaction) (bench.Outcome, e2e.Response) {
		o := bench.Post(ctx, client, srv.URL+"/interactions", env.Sign(in.Body), in.Body)
		r := e2e.Response{Status: o.Status, Raw: o.Body}
		if o.Err == nil && o.Status == 200 {
			_ = json.Unmarshal(o.Body, &r) // a bad body fails the check of r.Type
		}
		return o, r
	}

	seeds := makeSeeds(t, ctx, env, interact)
	p := bench.Project{ID: env.GitLab.ProjectID(), Path: env.GitLab.ProjectPath(), Web: env.GitLab.URL()}
	var (
		mu        sync.Mutex
		accepted  int         // reports accepted during the load
		replies   map[int]int // notes sdesk should write, per issue
		hooks     map[int]int // Discord messages the webhooks should make, per issue
		reportIDs []string    // tokens of accepted reports, whose answers must be edited
	)
	replies, hooks = map[int]int{}, map[int]int{}
	late := func(o bench.Outcome, limit time.Duration) string {
		if o.Latency > limit {
			return fmt.Sprintf("answered after %s, past the %s the caller waits", bench.Dur(o.Latency), limit)
		}
		return ""
	}
	bad := func(o bench.Outcome, r e2e.Response, want string) string {
		return fmt.Sprintf("got %d %.200s (%v), want %s", o.Status, r.Raw, o.Err, want)
	}
	ops := []bench.Op{
		{Name: "/report submit", Weight: 4, Do: func(ctx context.Context, i int) (bench.Outcome, bench.Verdict, string) {
			u := e2e.User{ID: fmt.Sprintf("1230000000000%06d", i%200), Username: "member" + strconv.Itoa(i%200)}
			in := env.ReportForm(u, e2e.Form{Title: fmt.Sprintf("Load report %d", i), Description: "Made by make load."})
			o, r := interact(ctx, in)
			if why := late(o, interactionDeadline); why != "" {
				return o, bench.Failed, why
			}
			switch {
			case o.Status == 200 && r.Type == 5:
				mu.Lock()
				accepted++
				reportIDs = append(reportIDs, in.Token)
				mu.Unlock()
				return o, bench.OK, ""
			case o.Status == 200 && r.Type == 4 && r.Ephemeral() &&
				(strings.Contains(r.Data.Content, "a moment ago") || strings.Contains(r.Data.Content, "open reports")):
				return o, bench.Refused, ""
			}
			return o, bench.Failed, bad(o, r, "a deferred answer (5) or a limit's refusal")
		}},
		{Name: "/reply", Weight: 5, Do: func(ctx context.Context, i int) (bench.Outcome, bench.Verdict, string) {
			s := seeds[i%len(seeds)]
			o, r := interact(ctx, env.Command(s.reporter, s.thread, "reply", map[string]string{"message": fmt.Sprintf("Load reply %d.", i)}))
			if why := late(o, interactionDeadline); why != "" {
				return o, bench.Failed, why
			}
			if o.Status != 200 || r.Type != 5 || r.Ephemeral() {
				return o, bench.Failed, bad(o, r, "a public deferred answer (5)")
			}
			mu.Lock()
			replies[s.iid]++
			mu.Unlock()
			return o, bench.OK, ""
		}},
		{Name: "/close autocomplete", Weight: 3, Do: func(ctx context.Context, i int) (bench.Outcome, bench.Verdict, string) {
			s := seeds[i%len(seeds)]
			o, r := interact(ctx, env.Autocomplete(s.reporter, e2e.ChannelID, "close", e2e.Option{Name: "issue", Type: 4, Value: "", Focused: true}))
			if why := late(o, interactionDeadline); why != "" {
				return o, bench.Failed, why
			}
			if o.Status != 200 || r.Type != 8 || len(r.Data.Choices) == 0 {
				return o, bench.Failed, bad(o, r, "choices (8) naming the member's report")
			}
			return o, bench.OK, ""
		}},
		{Name: "/issues", Weight: 3, Do: func(ctx context.Context, i int) (bench.Outcome, bench.Verdict, string) {
			s := seeds[i%len(seeds)]
			o, r := interact(ctx, env.CommandWith(s.reporter, e2e.ChannelID, "issues"))
			if why := late(o, interactionDeadline); why != "" {
				return o, bench.Failed, why
			}
			if o.Status != 200 || r.Type != 4 || !strings.Contains(r.Data.Content, fmt.Sprintf("**#%d**", s.iid)) {
				return o, bench.Failed, bad(o, r, fmt.Sprintf("a list (4) naming #%d", s.iid))
			}
			return o, bench.OK, ""
		}},
		{Name: "GitLab note webhook", Weight: 5, Do: func(ctx context.Context, i int) (bench.Outcome, bench.Verdict, string) {
			s := seeds[i%len(seeds)]
			key := fmt.Sprintf("load-%d-%d", time.Now().UnixNano(), i)
			o := bench.Post(ctx, client, srv.URL+"/gitlab", bench.HookHeader("Confidential Note Hook", e2e.WebhookSecret, key), bench.NoteHook(p, s.iid, 700000+i))
			if why := late(o, webhookDeadline); why != "" {
				return o, bench.Failed, why
			}
			if o.Err != nil || o.Status != 200 {
				return o, bench.Failed, fmt.Sprintf("got %d %.200s (%v), want 200", o.Status, o.Body, o.Err)
			}
			mu.Lock()
			hooks[s.iid]++
			mu.Unlock()
			return o, bench.OK, ""
		}},
	}
	rep := bench.RunLoad(ctx, ops, *loadRate, *loadDuration)
	loadEnd := time.Now()

	// Every accepted request's effect lands.
	wantIssues := len(seeds) + accepted
	type effect struct {
		what      string
		want, got int
	}
	check := func() []effect {
		var notes, msgs, wantNotes, wantMsgs, edited int
		for _, s := range seeds {
			is, _ := env.GitLab.Issue(s.iid)
			for _, n := range is.Notes {
				if !n.System && strings.Contains(n.Body, "Load reply ") {
					notes++
				}
			}
			msgs += max(len(env.Discord.Messages(s.thread))-1, 0) // the first is the report's
			wantNotes += replies[s.iid]
			wantMsgs += hooks[s.iid]
		}
		for _, tok := range reportIDs {
			if m, ok := env.Discord.OriginalResponse(tok); ok && strings.Contains(m.Content, "created") {
				edited++
			}
		}
		return []effect{
			{"GitLab issues", wantIssues, len(env.GitLab.Issues())},
			{"report answers edited to name the thread", len(reportIDs), edited},
			{"GitLab notes from /reply", wantNotes, notes},
			{"Discord messages from webhooks", wantMsgs, msgs},
		}
	}
	var effects []effect
	deadline := time.Now().Add(*loadSettle)
	for {
		effects = check()
		done := true
		for _, e := range effects {
			done = done && e.got >= e.want
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	settled := time.Since(loadEnd)
	rss, err := srv.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Error(err)
	}

	fmt.Printf("\nmake load: %d requests at %.0f/s for %s against sdesk serve on %s (loopback, Discord and GitLab fakes), limits per member at their defaults\n\n",
		rep.Sent, *loadRate, *loadDuration, *loadStore)
	if err := rep.Render(os.Stdout); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\neffects, %s after the last request:\n", settled.Round(time.Millisecond))
	for _, e := range effects {
		fmt.Printf("  %-42s want %5d  got %5d\n", e.what, e.want, e.got)
	}
	fmt.Printf("peak RSS of sdesk serve: %s; load generator late on %d of %d requests\n", bench.MiB(rss), rep.Late, rep.Sent)
	if n := rep.Failed(); n > 0 {
		t.Errorf("%d requests failed (other than the expected refusals)", n)
	}
	for _, e := range effects {
		if e.got != e.want {
			t.Errorf("%s: got %d, want %d", e.what, e.got, e.want)
		}
	}
	if rep.Late > rep.Sent/100 {
		t.Errorf("the load generator fell behind on %d of %d requests: the rate was not held", rep.Late, rep.Sent)
	}
}

// makeSeeds makes -load.seeds reports, one per member, and waits for their
// threads.
func makeSeeds(t *testing.T, ctx context.Context, env *e2e.Env, interact func(context.Context, e2e.Interaction) (bench.Outcome, e2e.Response)) []seed {
	t.Helper()
	var seeds []seed
	var ins []e2e.Interaction
	for i := range *loadSeeds {
		u := e2e.User{ID: fmt.Sprintf("1240000000000%06d", i), Username: "seed" + strconv.Itoa(i)}
		in := env.ReportForm(u, e2e.Form{Title: fmt.Sprintf("Seed %d", i), Description: "A report for the load to answer."})
		if o, r := interact(ctx, in); o.Status != 200 || r.Type != 5 {
			t.Fatalf("seed report %d: got %d %s (%v)", i, o.Status, o.Body, o.Err)
		}
		ins = append(ins, in)
		seeds = append(seeds, seed{reporter: u})
	}
	for i, in := range ins {
		answer := env.ReportDone(t, in)
		m := issueRE.FindStringSubmatch(answer)
		th := e2e.ThreadOf(answer)
		if m == nil || th == "" {
			t.Fatalf("seed report %d: answer %q names no issue and thread", i, answer)
		}
		seeds[i].iid, _ = strconv.Atoi(m[1])
		seeds[i].thread = th
	}
	return seeds
}
