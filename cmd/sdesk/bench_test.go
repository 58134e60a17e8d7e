package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// BenchmarkWebhookEvents measures GitLab note events per second through
// `sdesk serve` on DynamoDB Local with the Discord fake: each event is
// claimed, stored as a job, rendered and posted, then answered 200. It
// reports events/s and the process's peak resident memory.
func BenchmarkWebhookEvents(b *testing.B) {
	endpoint := dynamotest.Endpoint(b)
	client, table := dynamotest.NewTable(b)
	b.Setenv("AWS_ACCESS_KEY_ID", "test")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	b.Setenv("AWS_REGION", "us-east-1")
	env := e2e.New(b)
	env.Vars["SDESK_STORE"] = "dynamodb"
	env.Vars["SDESK_TABLE"] = table
	env.Vars["DYNAMODB_ENDPOINT"] = endpoint
	env.Vars["SDESK_LOG_LEVEL"] = "warn"
	const thread = "1400000000000000001"
	if err := dynamo.New(client, table).PutMapping(context.Background(), sdesk.Mapping{
		IssueIID: 7, IssueURL: "https://gitlab.example.com/acme/support/-/issues/7", ThreadID: thread,
		GuildID: e2e.GuildID, ChannelID: e2e.ChannelID, ReporterID: e2e.Reporter.ID, Title: "Bench",
	}); err != nil {
		b.Fatal(err)
	}
	m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: env.Getenv}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"serve"}) }()
	defer func() { cancel(); <-done }()
	select {
	case <-m.Ready():
	case err := <-done:
		b.Fatal(err)
	}
	url := "http://" + m.Addr() + "/gitlab"

	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"object_kind":"note","event_type":"confidential_note",
"user":{"id":501,"name":"Ada Lovelace","username":"ada","avatar_url":"https://gitlab.example.com/a.png"},
"project":{"id":4242,"path_with_namespace":"acme/support","web_url":"https://gitlab.example.com/acme/support"},
"object_attributes":{"id":%d,"note":"Comment %d: could you **try again** with the [log](/uploads/0123456789abcdef0123456789abcdef/log.txt)?","noteable_type":"Issue","internal":false,"action":"create","created_at":"2026-11-24T10:00:00Z","updated_at":"2026-11-24T10:00:00Z","url":"https://gitlab.example.com/acme/support/-/issues/7#note_%d"},
"issue":{"id":90007,"iid":7,"title":"Bench","confidential":true}}`, 100000+i, i, 100000+i))
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
		req.Header.Set("X-Gitlab-Event", "Confidential Note Hook")
		req.Header.Set("X-Gitlab-Token", e2e.WebhookSecret)
		req.Header.Set("Idempotency-Key", "bench-"+strconv.Itoa(i)+"-"+strconv.FormatInt(start.UnixNano(), 36))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if kb := peakRSSKB(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "peak-RSS-MB")
	}
	if got := len(env.Discord.Messages(thread)); got != b.N {
		b.Fatalf("messages: got %d, want %d", got, b.N)
	}
}

// peakRSSKB reads VmHWM (peak resident set) from /proc/self/status.
func peakRSSKB() int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}
