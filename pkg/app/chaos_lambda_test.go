package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/sdesk/sdesk/internal/chaos"
	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

var (
	chaosSeed = flag.Int64("chaos.seed", 1, "seed of the Lambda chaos run; 0 picks one from the clock (printed)")
	chaosOps  = flag.Int("chaos.ops", 40, "operations in the Lambda chaos run")
	chaosRate = flag.Float64("chaos.rate", 0.2, "share of Discord and GitLab requests that get a fault")
)

// lambdaTarget delivers interactions and webhooks the way API Gateway does:
// as HTTP API (payload 2.0) events to the two functions' handlers.
type lambdaTarget struct {
	interactions, webhook lambda.Handler
}

func (l lambdaTarget) Interact(ctx context.Context, body []byte, h http.Header) (int, []byte, error) {
	return invokeHTTP(ctx, l.interactions, "/interactions", body, h)
}

func (l lambdaTarget) Webhook(ctx context.Context, body []byte, h http.Header) (int, error) {
	st, _, err := invokeHTTP(ctx, l.webhook, "/gitlab", body, h)
	return st, err
}

// invokeHTTP runs one HTTP API event through a handler; headers are
// lower-cased, as API Gateway sends them.
func invokeHTTP(ctx context.Context, h lambda.Handler, path string, body []byte, hdr http.Header) (int, []byte, error) {
	headers := map[string]string{}
	for k := range hdr {
		headers[strings.ToLower(k)] = hdr.Get(k)
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST " + path, RawPath: path, Headers: headers, Body: string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-" + strconv.FormatInt(time.Now().UnixNano(), 10), Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.1"},
		},
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return 0, nil, fmt.Errorf("encode event: %w", err)
	}
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		return 0, nil, fmt.Errorf("invoke: %w", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, nil, fmt.Errorf("decode response %s: %w", out, err)
	}
	b := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return 0, nil, fmt.Errorf("decode body: %w", err)
		}
	}
	return resp.StatusCode, b, nil
}

// TestChaosLambda is the chaos run on the Lambda deployment: the
// interactions and webhook functions on DynamoDB, behind the same faulty
// Discord and GitLab, with every asynchronous job invocation delivered twice
// (Lambda may repeat a delivery). There is no process to kill; every effect
// must still happen exactly once, no job may stay pending or fail, and no
// event may end in the dead-letter queue.
func TestChaosLambda(t *testing.T) {
	seed := *chaosSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_000
	}
	plan := chaos.NewPlan(seed, *chaosOps)
	repro := fmt.Sprintf("scripts/with-dynamodb.sh go test ./pkg/app -run '^TestChaosLambda$' -count=1 -v -args -chaos.seed=%d -chaos.ops=%d -chaos.rate=%g", seed, len(plan.Ops), *chaosRate)
	t.Logf("chaos seed %d; reproduce with: %s", seed, repro)

	env := e2e.New(t)
	fake, store := awsEnv(t, env.Vars)
	twice := chaos.NewTwice(t, fake.URL(), seed, 300*time.Millisecond)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", twice.URL())
	dproxy := chaos.NewProxy(t, strings.TrimSuffix(env.Discord.URL(), discordfake.APIPrefix),
		chaos.Options{Name: "discord", Flavor: chaos.Discord, Seed: seed, Rate: *chaosRate})
	gproxy := chaos.NewProxy(t, env.GitLab.URL(), chaos.Options{Name: "gitlab", Flavor: chaos.GitLab, Seed: seed, Rate: *chaosRate})
	env.Vars["DISCORD_API_URL"] = dproxy.URL() + discordfake.APIPrefix
	env.Vars["GITLAB_URL"] = gproxy.URL()

	logs := &e2e.LogBuffer{}
	interactions := newHandler(t, env.Getenv, app.LambdaInteractions, logs)
	fake.SetHandler(interactions)
	webhook := newHandler(t, env.Getenv, app.LambdaWebhook, logs)

	bound := 3*time.Minute + time.Duration(len(plan.Ops))*2*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	w := chaos.Run(ctx, chaos.Config{
		Plan: plan, Env: env, Target: lambdaTarget{interactions: interactions, webhook: webhook},
		Workers: 4, Proxies: []*chaos.Proxy{dproxy, gproxy}, Logf: t.Logf,
	})
	if ctx.Err() != nil {
		t.Errorf("the run did not finish within %s", bound)
	}
	twice.Wait()
	fake.Wait()

	snap := chaos.Capture(env, w)
	pending, err := store.ListJobs(context.Background(), sdesk.JobPending)
	if err != nil {
		t.Fatal(err)
	}
	failed, err := store.ListJobs(context.Background(), sdesk.JobFailed)
	if err != nil {
		t.Fatal(err)
	}
	snap.Jobs = &chaos.Jobs{Pending: pending, Failed: failed}
	res := w.Check(snap)
	made, refused := twice.Repeats()
	t.Logf("\n%s\ndiscord proxy: %s\ngitlab proxy: %s\nasync invocations delivered twice: %d (%d refused); handler runs %d",
		w.Report(res), dproxy.Stats(), gproxy.Stats(), made, refused, fake.Attempts())
	if dl := fake.DeadLetters(); len(dl) > 0 {
		t.Errorf("%d events in the dead-letter queue, want 0: %s", len(dl), dl)
	}
	if made == 0 {
		t.Error("no asynchronous invocation was delivered twice: the run tested nothing of Lambda's repeats")
	}
	if res.Failed() {
		t.Logf("%s", w.Excerpts(res, logs.String(), 30))
		lost, doubled := res.Lost()
		t.Errorf("Lambda chaos run (seed %d) broke %d rules: %d lost, %d doubled; reproduce with: %s", seed, len(res.Violations), lost, doubled, repro)
	}
}
