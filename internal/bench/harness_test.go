package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/bench"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	for _, tc := range []struct {
		name string
		d    []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median odd", ms(3, 1, 2), 50, 2 * time.Millisecond},
		{"median even is the lower middle", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p1 of 100", ms(hundred...), 1, 1 * time.Millisecond},
		{"p99 of 200 is the 198th", ms(append(append([]int{}, hundred...), hundred...)...), 99, 99 * time.Millisecond},
	} {
		if got := bench.Percentile(tc.d, tc.p); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	d := ms(3, 1, 2)
	bench.Percentile(d, 50)
	if d[0] != 3*time.Millisecond {
		t.Error("Percentile sorted its argument")
	}
	s := bench.Summarize(ms(hundred...))
	if s.N != 100 || s.P50 != 50*time.Millisecond || s.P90 != 90*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Errorf("Summarize: got %+v, want n 100, p50 50ms, p90 90ms, p99 99ms, max 100ms", s)
	}
}

func TestParseInitTrace(t *testing.T) {
	stderr := []byte(`init internal/bytealg @0.005 ms, 0.003 ms clock, 0 bytes, 0 allocs
init github.com/sdesk/sdesk/pkg/config @8.9 ms, 0.96 ms clock, 226424 bytes, 3074 allocs
{"level":"INFO","msg":"init done"}
2026/11/29 17:00:00 init of something else is not a trace line
`)
	// The last line does not start with "init ": ignored.
	got, err := bench.ParseInitTrace(stderr)
	if err != nil {
		t.Fatal(err)
	}
	want := []bench.InitCost{
		{Package: "internal/bytealg", Start: 5 * time.Microsecond, Clock: 3 * time.Microsecond},
		{Package: "github.com/sdesk/sdesk/pkg/config", Start: 8900 * time.Microsecond, Clock: 960 * time.Microsecond, Bytes: 226424, Allocs: 3074},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{
		"init x @1 ms, 2 ms clock, 3 bytes",
		"init x @1 ms, -2 ms clock, 3 bytes, 4 allocs",
		"init x @a ms, 2 ms clock, 3 bytes, 4 allocs",
		"init x @1 ms, 2 ms wall, 3 bytes, 4 allocs",
	} {
		if _, err := bench.ParseInitTrace([]byte(bad + "\n")); err == nil {
			t.Errorf("%q: got no error, want one", bad)
		}
	}
}

func TestMedianInit(t *testing.T) {
	tr := func(clocks ...int) []bench.InitCost {
		var out []bench.InitCost
		for i, c := range clocks {
			if c >= 0 {
				out = append(out, bench.InitCost{Package: string(rune('a' + i)), Clock: time.Duration(c)})
			}
		}
		return out
	}
	got := bench.MedianInit([][]bench.InitCost{tr(5, 1, 9), tr(7, 2, -1), tr(6, 3, 1)})
	// a: 5 6 7 -> 6; b: 1 2 3 -> 2; c: 9 1 (absent once) -> the upper of two, 9.
	want := []bench.InitCost{{Package: "c", Clock: 9}, {Package: "a", Clock: 6}, {Package: "b", Clock: 2}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Package != want[i].Package || got[i].Clock != want[i].Clock {
			t.Errorf("%d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, want := bench.TotalInit(got), time.Duration(17); got != want {
		t.Errorf("TotalInit: got %v, want %v", got, want)
	}
}

func TestPackageAndModuleOf(t *testing.T) {
	mods := []string{"github.com/sdesk/sdesk", "github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-sdk-go-v2/service/dynamodb"}
	for _, tc := range []struct{ sym, pkg, mod string }{
		{"net/http.(*Transport).dialConn", "net/http", "std"},
		{"runtime.mallocgc", "runtime", "std"},
		{"github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas.init.0", "github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas", "github.com/aws/aws-sdk-go-v2/service/dynamodb"},
		{"github.com/aws/aws-sdk-go-v2/aws/signer/v4.(*Signer).SignHTTP", "github.com/aws/aws-sdk-go-v2/aws/signer/v4", "github.com/aws/aws-sdk-go-v2"},
		{"github.com/sdesk/sdesk/pkg/app.New", "github.com/sdesk/sdesk/pkg/app", "github.com/sdesk/sdesk"},
		{"slices.SortFunc[go.shape.struct { github.com/sdesk/sdesk/pkg/sdesk.ID string }]", "slices", "std"},
		{"gitlab.com/gitlab-org/api/client-go.NewClient", "gitlab.com/gitlab-org/api/client-go", ""},
		{"go:func.*", "", ""},
		{"type:.eq.net/http.Request", "", ""},
	} {
		pkg := bench.PackageOf(tc.sym)
		if pkg != tc.pkg {
			t.Errorf("PackageOf(%q): got %q, want %q", tc.sym, pkg, tc.pkg)
		}
		if got := bench.ModuleOf(pkg, mods); got != tc.mod {
			t.Errorf("ModuleOf(%q): got %q, want %q", pkg, got, tc.mod)
		}
	}
}

func TestParseNM(t *testing.T) {
	nm := []byte(`  4d8820        244 T type:.eq.reflect.Method
  6e67a0     112088 T github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas.init.0
  7a5780      14324 T github.com/sdesk/sdesk/pkg/config.Load
  7a5780       1000 t github.com/sdesk/sdesk/pkg/config.load.func1
  108cb60  33554432 D crypto/internal/fips140/drbg.memory
  4a3f20      11611 T time.parse
`)
	sums, total, err := bench.ParseNM(nm, []string{"github.com/sdesk/sdesk", "github.com/aws/aws-sdk-go-v2/service/dynamodb"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{bench.Linker: 244, "github.com/aws/aws-sdk-go-v2/service/dynamodb": 112088, "github.com/sdesk/sdesk": 15324, "std": 11611}
	if len(sums) != len(want) || total != 244+112088+15324+11611 {
		t.Fatalf("got %v (total %d), want %v", sums, total, want)
	}
	for k, v := range want {
		if sums[k] != v {
			t.Errorf("%s: got %d, want %d", k, sums[k], v)
		}
	}
	if _, _, err := bench.ParseNM([]byte("  4d8820 x T runtime.main\n"), nil); err == nil {
		t.Error("a size that is not a number: got no error")
	}
	mods := bench.Modules([]byte("bin: go1.26.8\n\tpath\tgithub.com/sdesk/sdesk/functions/interactions\n\tmod\tgithub.com/sdesk/sdesk\t(devel)\t\n\tdep\tgithub.com/aws/smithy-go\tv1.28.9\th1:x=\n\tbuild\t-tags=lambda.norpc\n"))
	if strings.Join(mods, ",") != "github.com/sdesk/sdesk,github.com/aws/smithy-go" {
		t.Errorf("Modules: got %v, want the main module and the dependency", mods)
	}
}

func TestCycle(t *testing.T) {
	ops := []bench.Op{{Name: "a", Weight: 4}, {Name: "b", Weight: 1}, {Name: "c", Weight: 0}, {Name: "d", Weight: 3}}
	got := bench.Cycle(ops)
	count := map[int]int{}
	for _, i := range got {
		count[i]++
	}
	if len(got) != 8 || count[0] != 4 || count[1] != 1 || count[2] != 0 || count[3] != 3 {
		t.Fatalf("got %v, want 4 a, 1 b, no c and 3 d", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] == 0 && got[i-1] == 0 && got[(i+1)%len(got)] == 0 {
			t.Errorf("%v: three a in a row, want them spread", got)
		}
	}
}

func TestRunLoad(t *testing.T) {
	var inFlight, peak atomic.Int64
	var mu sync.Mutex
	seen := map[string][]int{}
	op := func(name string, v bench.Verdict) bench.Op {
		return bench.Op{Name: name, Weight: 1, Do: func(_ context.Context, i int) (bench.Outcome, bench.Verdict, string) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			mu.Lock()
			seen[name] = append(seen[name], i)
			mu.Unlock()
			time.Sleep(30 * time.Millisecond) // longer than the gap between slots
			return bench.Outcome{Latency: time.Duration(i+1) * time.Millisecond}, v, "said no"
		}}
	}
	start := time.Now()
	rep := bench.RunLoad(context.Background(), []bench.Op{op("ok", bench.OK), op("refused", bench.Refused), op("failed", bench.Failed)}, 100, 600*time.Millisecond)
	if d := time.Since(start); d < 600*time.Millisecond-20*time.Millisecond || d > 2*time.Second {
		t.Errorf("took %s, want about 0.6 s", d)
	}
	if rep.Sent != 60 {
		t.Errorf("sent %d, want 60 (100/s for 0.6 s)", rep.Sent)
	}
	if peak.Load() < 2 {
		t.Errorf("at most %d requests in flight, want overlap (open loop: slots do not wait for answers)", peak.Load())
	}
	for i, want := range []struct{ ok, refused, failed int }{{20, 0, 0}, {0, 20, 0}, {0, 0, 20}} {
		o := rep.Ops[i]
		if o.Sent != 20 || o.OK != want.ok || o.Refused != want.refused || o.Failed != want.failed {
			t.Errorf("%s: got %+v, want 20 sent and %+v", o.Name, o, want)
		}
		if o.Latency.N != 20 || o.Latency.Max != 20*time.Millisecond {
			t.Errorf("%s latency: got %+v, want 20 samples, max 20ms", o.Name, o.Latency)
		}
	}
	if rep.Failed() != 20 || len(rep.Ops[2].Errors) != 5 || rep.Ops[2].Errors[0] != "said no" {
		t.Errorf("failures: got %d, errors %v; want 20, the first 5 reasons kept", rep.Failed(), rep.Ops[2].Errors)
	}
	for name, is := range seen {
		for k := range 20 {
			if !containsInt(is, k) {
				t.Errorf("%s: request %d never sent (indexes %v)", name, k, is)
			}
		}
	}
	var out bytes.Buffer
	if err := rep.Render(&out); err != nil || !strings.Contains(out.String(), "error: failed: said no") {
		t.Errorf("Render: got %q (%v), want the table and the reasons", out.String(), err)
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// self is the test binary, which acts as a Lambda function or sdesk serve
// under BENCH_ROLE (see TestMain).
func self(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestColdStart(t *testing.T) {
	ctx := context.Background()
	event := []byte(`{"ping":1}`)
	t.Run("answer", func(t *testing.T) {
		s, _, err := bench.ColdStart(ctx, bench.Function{Name: "echo", Binary: self(t), Env: []string{"BENCH_ROLE=lambda-echo"}, Event: event, Want: `{"echo":{"ping":1}}`}, nil, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if s.Ready <= 0 || s.Answer < s.Ready {
			t.Errorf("got ready %v, answer %v: want 0 < ready ≤ answer", s.Ready, s.Answer)
		}
	})
	for _, tc := range []struct {
		name, role, want, wantErr string
	}{
		{"handler error", "lambda-error", "", "answered with an error"},
		{"exits at start", "exit", "", "ended before answering"},
		{"wrong answer", "lambda-echo", "pong", "want it to contain pong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := bench.ColdStart(ctx, bench.Function{Name: tc.role, Binary: self(t), Env: []string{"BENCH_ROLE=" + tc.role}, Event: event, Want: tc.want}, nil, 30*time.Second)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error saying %q", err, tc.wantErr)
			}
			if tc.role == "exit" && !bytes.Contains(stderr, []byte("bad configuration")) {
				t.Errorf("stderr: got %q, want the process's message", stderr)
			}
		})
	}
	t.Run("rounds interleave", func(t *testing.T) {
		fn := func(name string) bench.Function {
			return bench.Function{Name: name, Binary: self(t), Env: []string{"BENCH_ROLE=lambda-echo"}, Event: event, Want: "echo"}
		}
		got, err := bench.ColdStarts(ctx, []bench.Function{fn("a"), fn("b")}, 3, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || len(got[0]) != 3 || len(got[1]) != 3 {
			t.Errorf("got %d functions with %v starts, want 2 with 3 each", len(got), got)
		}
	})
}

// The fake Runtime API hands its event out once: a second request for an
// event waits; an answer for another request ID is refused.
func TestRuntimeAPI(t *testing.T) {
	api := bench.NewRuntimeAPI([]byte(`{"n":1}`))
	defer api.Close()
	base := "http://" + api.Addr() + "/2018-06-01/runtime/invocation/"
	resp, err := http.Get(base + "next")
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	resp.Body.Close()
	if resp.StatusCode != 200 || id == "" || resp.Header.Get("Lambda-Runtime-Deadline-Ms") == "" {
		t.Fatalf("next: got %d, id %q, want 200 with the request ID and deadline", resp.StatusCode, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"next", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("second next: got %d, want it to wait", resp.StatusCode)
	}
	if resp, err := http.Post(base+"other/response", "application/json", strings.NewReader(`{}`)); err != nil || resp.StatusCode != 404 {
		t.Errorf("answer for another ID: got %v %v, want 404", resp, err)
	}
	resp, err = http.Post(base+id+"/response", "application/json", strings.NewReader(`"ok"`))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("response: got %v %v, want 202", resp, err)
	}
	select {
	case <-api.Done():
	default:
		t.Fatal("Done not closed after the answer")
	}
	next, answered, failed, body := api.Answer()
	if next.IsZero() || answered.Before(next) || failed || string(body) != `"ok"` {
		t.Errorf("Answer: got %v %v %v %s", next, answered, failed, body)
	}
	if resp, err := http.Post(base+id+"/response", "application/json", strings.NewReader(`"again"`)); err != nil || resp.StatusCode != 400 {
		t.Errorf("second answer: got %v %v, want 400", resp, err)
	}
}

func TestStartServe(t *testing.T) {
	ctx := context.Background()
	s, err := bench.StartServe(ctx, self(t), map[string]string{"BENCH_ROLE": "serve", "SDESK_ADDR": ":1"}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL: got %s, want a loopback address (SDESK_ADDR is the harness's)", s.URL)
	}
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rss, err := s.PeakRSS()
	if err != nil || rss < 1<<20 {
		t.Errorf("PeakRSS: got %d (%v), want at least 1 MiB", rss, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if !strings.Contains(s.Log(), `"path":"/healthz"`) {
		t.Errorf("Log: got %q, want the request line", s.Log())
	}

	_, err = bench.StartServe(ctx, self(t), map[string]string{"BENCH_ROLE": "exit"}, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "bad configuration") {
		t.Errorf("a process that exits: got %v, want an error with its last words", err)
	}
}

func TestPeakRSSOfThisProcess(t *testing.T) {
	n, err := bench.PeakRSS(os.Getpid())
	if err != nil || n < 1<<20 {
		t.Errorf("got %d (%v), want at least 1 MiB", n, err)
	}
	if _, err := bench.PeakRSS(-1); err == nil {
		t.Error("no such process: got no error")
	}
}

func TestDeliver(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(10 * time.Millisecond)
		if r.Header.Get("X-Gitlab-Token") != "secret" {
			w.WriteHeader(401)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		_, _ = w.Write(append([]byte(r.Header.Get("Idempotency-Key")+":"), body.Bytes()...))
	}))
	defer srv.Close()
	bodies := make([][]byte, 40)
	for i := range bodies {
		bodies[i] = bench.NoteHook(bench.Project{ID: 1, Path: "g/p", Web: "https://gitlab.example.com"}, i%3+1, 1000+i)
	}
	outs, wall := bench.Deliver(context.Background(), bench.NewHTTPClient(4, 10*time.Second), srv.URL, bodies, func(i int) http.Header {
		return bench.HookHeader("Note Hook", "secret", "key-"+string(rune('a'+i%26)))
	}, 4)
	if peak.Load() > 4 || peak.Load() < 2 {
		t.Errorf("in flight at most %d, want 2 to 4", peak.Load())
	}
	if wall < 100*time.Millisecond {
		t.Errorf("wall %s: want at least 40 × 10 ms / 4", wall)
	}
	for i, o := range outs {
		if o.Err != nil || o.Status != 200 || !bytes.HasSuffix(o.Body, bodies[i]) || o.Latency < 10*time.Millisecond {
			t.Fatalf("outcome %d: got %d %s (%v, %v), want 200 echoing its body", i, o.Status, o.Body, o.Err, o.Latency)
		}
	}
	var hook struct {
		Kind  string `json:"object_kind"`
		Attrs struct {
			ID int `json:"id"`
		} `json:"object_attributes"`
		Issue struct {
			IID int `json:"iid"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(bodies[5], &hook); err != nil || hook.Kind != "note" || hook.Attrs.ID != 1005 || hook.Issue.IID != 3 {
		t.Errorf("NoteHook: got %+v (%v), want note 1005 on issue 3", hook, err)
	}
}

func TestResultFiles(t *testing.T) {
	r := &bench.Result{
		Date: time.Date(2026, 11, 29, 17, 30, 12, 0, time.UTC), Command: "make bench",
		Rows: []bench.Row{
			{Name: "a | b", Sdesk: "1 ms", Floor: "2 ms", Ratio: "0.50×", Target: "≤ 1.0×", Met: "yes"},
			{Name: "c", Sdesk: "3 MB", Target: "≤ 2 MB", Met: "no", Cause: "too big"},
			{Name: "d", Sdesk: "1 ms", Target: "p99 < 50 ms", Met: "yes"},
		},
	}
	dir := t.TempDir()
	path, err := r.WriteJSON(filepath.Join(dir, "results"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "2026-11-29T173012Z.json" {
		t.Errorf("file: got %s, want it named by the date", filepath.Base(path))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.Result
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Rows) != 3 || back.Rows[1].Cause != "too big" || !back.Date.Equal(r.Date) {
		t.Errorf("round trip: got %+v (%v)", back, err)
	}
	if !bytes.Contains(raw, []byte(`"target": "p99 < 50 ms"`)) || !bytes.HasSuffix(raw, []byte("}\n")) {
		t.Errorf("file: got %s, want indented JSON with the targets as written, ending in a newline", raw)
	}
	var text, md bytes.Buffer
	if err := r.Render(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"measure", "a | b", "* c: too big"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("Render: got %q, want %q in it", text.String(), want)
		}
	}
	for _, want := range []string{`| a \| b | 1 ms | 2 ms | 0.50× | ≤ 1.0× | yes |`, "| c | 3 MB | – | – | ≤ 2 MB | no |", "- c: too big"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown: got %q, want %q in it", md.String(), want)
		}
	}
}
