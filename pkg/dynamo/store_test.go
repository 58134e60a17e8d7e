package dynamo_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sdesk/sdesk/pkg/awsenv"
	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
	"github.com/sdesk/sdesk/pkg/sdesk"
	"github.com/sdesk/sdesk/pkg/sdesk/sdesktest"
)

// TestStore runs the contract with Queries of 3 items, so Mappings reads
// many pages, some of them empty after its state filter.
func TestStore(t *testing.T) {
	dynamotest.Endpoint(t)
	sdesktest.TestStore(t, newSmallPageStore)
}

func newSmallPageStore(t *testing.T) sdesk.Store {
	client, table := dynamotest.NewTable(t)
	s := dynamo.New(client, table)
	dynamo.SetPageSize(s, 3)
	return s
}

// FuzzMappings runs the model of sdesktest.FuzzMappings on DynamoDB (a
// table per input, so it is slow to fuzz; its seeds run with the tests).
func FuzzMappings(f *testing.F) {
	dynamotest.Endpoint(f)
	sdesktest.FuzzMappings(f, newSmallPageStore)
}

func getItem(t *testing.T, client *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk},
			"SK": &types.AttributeValueMemberS{Value: sk},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem(%s, %s): got error %v, want nil", pk, sk, err)
	}
	return out.Item
}

// scanKeys returns the keys of every item in table as "PK SK", sorted.
func scanKeys(t *testing.T, client *dynamodb.Client, table string) []string {
	t.Helper()
	keys := []string{}
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("Scan: got error %v, want nil", err)
		}
		for _, item := range page.Items {
			pk, _ := item["PK"].(*types.AttributeValueMemberS)
			sk, _ := item["SK"].(*types.AttributeValueMemberS)
			if pk == nil || sk == nil {
				t.Fatalf("Scan: got an item without string keys: %v", item)
			}
			keys = append(keys, pk.Value+" "+sk.Value)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestItemLayout checks the documented item keys with a raw scan, so the
// layout in the package documentation stays true: these items and no
// others.
func TestItemLayout(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	m := sdesk.Mapping{IssueIID: 42, ThreadID: "200", ReporterID: "300", Title: "t", CreatedAt: time.Now()}
	if err := s.PutMapping(ctx, m); err != nil {
		t.Fatalf("PutMapping: got error %v, want nil", err)
	}
	if _, err := s.Claim(ctx, "evt", time.Hour); err != nil {
		t.Fatalf("Claim: got error %v, want nil", err)
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 7200))
	j := sdesk.Job{ID: "j1", Status: sdesk.JobPending, CreatedAt: created, ExpiresAt: time.Unix(4102444800, 500)}
	if err := s.PutJob(ctx, j); err != nil {
		t.Fatalf("PutJob: got error %v, want nil", err)
	}
	if err := s.PutNoteMessages(ctx, 42, 7, []string{"m1"}); err != nil {
		t.Fatalf("PutNoteMessages: got error %v, want nil", err)
	}

	want := []string{
		"CLAIM#evt CLAIM",
		"ISSUE#42 MAPPING",
		"ISSUE#42 NOTE#000000000007",
		"JOB#j1 JOB",
		"THREAD#200 MAPPING",
	}
	if got := scanKeys(t, client, table); !slices.Equal(got, want) {
		t.Errorf("items: got %q, want %q", got, want)
	}
	claim := getItem(t, client, table, "CLAIM#evt", "CLAIM")
	if n, ok := claim["expires_at"].(*types.AttributeValueMemberN); !ok || n.Value == "" {
		t.Errorf("claim expires_at: got %#v, want a number", claim["expires_at"])
	}
	job := getItem(t, client, table, "JOB#j1", "JOB")
	for attr, want := range map[string]string{
		"GSI1PK":     "JOBS#pending",
		"GSI1SK":     "2025-01-02T01:04:05.000000000Z#j1",
		"expires_at": "4102444801", // rounded up to whole seconds
	} {
		var got string
		switch v := job[attr].(type) {
		case *types.AttributeValueMemberS:
			got = v.Value
		case *types.AttributeValueMemberN:
			got = v.Value
		}
		if got != want {
			t.Errorf("job %s: got %q, want %q", attr, got, want)
		}
	}
}

// TestPutMappingIsOneTransaction checks with a raw scan that a conflicting
// PutMapping leaves no item behind, whichever of its conditions failed, and
// that its error names the conflict.
func TestPutMappingIsOneTransaction(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	first := sdesk.Mapping{IssueIID: 1, ThreadID: "201", ReporterID: "301", Title: "first", CreatedAt: time.Now()}
	if err := s.PutMapping(ctx, first); err != nil {
		t.Fatalf("PutMapping: got error %v, want nil", err)
	}
	before := scanKeys(t, client, table)
	if want := []string{"ISSUE#1 MAPPING", "THREAD#201 MAPPING"}; !slices.Equal(before, want) {
		t.Errorf("items after one mapping: got %q, want %q", before, want)
	}

	tests := []struct {
		name string
		m    sdesk.Mapping
		msg  string
	}{
		{"issue taken", sdesk.Mapping{IssueIID: 1, ThreadID: "209", ReporterID: "309"}, `issue 1 is mapped to thread "201"`},
		{"thread taken", sdesk.Mapping{IssueIID: 9, ThreadID: "201", ReporterID: "309"}, `thread "201" is mapped to issue 1`},
		{"other reporter", sdesk.Mapping{IssueIID: 1, ThreadID: "201", ReporterID: "309"}, `issue 1 belongs to reporter "301"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutMapping(ctx, tt.m)
			if !errors.Is(err, sdesk.ErrConflict) {
				t.Fatalf("PutMapping: got error %v, want ErrConflict", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("PutMapping error: got %q, want it to contain %q", err, tt.msg)
			}
			if got := scanKeys(t, client, table); !slices.Equal(got, before) {
				t.Errorf("items after conflict: got %q, want %q", got, before)
			}
		})
	}
}

// TestOldReporterItemsAreIgnored: a table written by earlier versions also
// holds reporter items (REPORTER#<userID> / ISSUE#<iid, 10 digits>). The
// store works on it, still refuses conflicting mappings, and neither writes
// nor changes reporter items.
func TestOldReporterItemsAreIgnored(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	old := sdesk.Mapping{IssueIID: 1, IssueURL: "https://gitlab.example.com/g/p/-/issues/1", ThreadID: "201",
		GuildID: "100", ChannelID: "101", ReporterID: "301", Title: "old", CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	if err := s.PutMapping(ctx, old); err != nil {
		t.Fatalf("PutMapping: got error %v, want nil", err)
	}
	reporterItem := map[string]types.AttributeValue{
		"PK":          &types.AttributeValueMemberS{Value: "REPORTER#301"},
		"SK":          &types.AttributeValueMemberS{Value: "ISSUE#0000000001"},
		"iid":         &types.AttributeValueMemberN{Value: "1"},
		"issue_url":   &types.AttributeValueMemberS{Value: old.IssueURL},
		"thread_id":   &types.AttributeValueMemberS{Value: "201"},
		"guild_id":    &types.AttributeValueMemberS{Value: "100"},
		"channel_id":  &types.AttributeValueMemberS{Value: "101"},
		"reporter_id": &types.AttributeValueMemberS{Value: "301"},
		"title":       &types.AttributeValueMemberS{Value: "old"},
		"created_at":  &types.AttributeValueMemberS{Value: "2025-03-04T05:06:07Z"},
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: reporterItem}); err != nil {
		t.Fatalf("PutItem(old reporter item): got error %v, want nil", err)
	}

	renamed := old
	renamed.Title = "renamed"
	second := sdesk.Mapping{IssueIID: 2, ThreadID: "202", ReporterID: "301", Title: "new", CreatedAt: time.Now()}
	for _, tt := range []struct {
		m        sdesk.Mapping
		conflict bool
	}{
		{renamed, false},
		{second, false},
		{sdesk.Mapping{IssueIID: 1, ThreadID: "201", ReporterID: "309"}, true},
		{sdesk.Mapping{IssueIID: 3, ThreadID: "201", ReporterID: "301"}, true},
	} {
		err := s.PutMapping(ctx, tt.m)
		if got := errors.Is(err, sdesk.ErrConflict); got != tt.conflict || (err != nil && !got) {
			t.Errorf("PutMapping(%d, %q, %q): got error %v, want conflict %v", tt.m.IssueIID, tt.m.ThreadID, tt.m.ReporterID, err, tt.conflict)
		}
	}
	if got, err := s.MappingByIssue(ctx, 1); err != nil || got.Title != "renamed" || got.ReporterID != "301" {
		t.Errorf("MappingByIssue(1): got %+v, %v, want the renamed mapping of reporter 301", got, err)
	}
	if got, err := s.MappingByThread(ctx, "202"); err != nil || got.IssueIID != 2 {
		t.Errorf("MappingByThread(%q): got %+v, %v, want issue 2", "202", got, err)
	}
	want := []string{"ISSUE#1 MAPPING", "ISSUE#2 MAPPING", "REPORTER#301 ISSUE#0000000001", "THREAD#201 MAPPING", "THREAD#202 MAPPING"}
	if got := scanKeys(t, client, table); !slices.Equal(got, want) {
		t.Errorf("items: got %q, want %q", got, want)
	}
	got := getItem(t, client, table, "REPORTER#301", "ISSUE#0000000001")
	title, _ := got["title"].(*types.AttributeValueMemberS)
	if title == nil || title.Value != "old" || len(got) != len(reporterItem) {
		t.Errorf("old reporter item: got %d attributes, title %#v, want it unchanged (%d attributes, title %q)", len(got), title, len(reporterItem), "old")
	}
}

// TestErrorsAreWrapped checks that backend errors carry the "dynamo:"
// context (here: the table does not exist).
func TestErrorsAreWrapped(t *testing.T) {
	client := dynamo.NewClient(awsenv.Config(), dynamotest.Endpoint(t))
	s := dynamo.New(client, "sdesk-test-missing-table")
	_, err := s.GetJob(t.Context(), "x")
	if err == nil || errors.Is(err, sdesk.ErrNotFound) || !strings.HasPrefix(err.Error(), `dynamo: get job "x": `) {
		t.Errorf("GetJob on a missing table: got %v, want a dynamo: error that is not ErrNotFound", err)
	}
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("GetJob on a missing table: got %T in chain, want *types.ResourceNotFoundException", err)
	}
}

// TestClaimJobRetriesTransactionConflict: DynamoDB cancels concurrent
// transactions on one item with TransactionConflict (DynamoDB Local
// serializes them instead, so a fake endpoint plays DynamoDB here). ClaimJob
// tries again and then reports what the retry found.
func TestClaimJobRetriesTransactionConflict(t *testing.T) {
	cancelled := func(code string) string {
		return `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
			`"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [` + code + `, None]",` +
			`"CancellationReasons":[{"Code":"` + code + `"},{"Code":"None"}]}`
	}
	cancelledJob := func(code string) string {
		return `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
			`"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ` + code + `]",` +
			`"CancellationReasons":[{"Code":"None"},{"Code":"` + code + `"}]}`
	}
	tests := []struct {
		name      string
		answers   []string // "" is success
		wantWon   bool
		wantErr   bool
		wantCalls int
	}{
		{"conflict then won", []string{cancelled("TransactionConflict"), ""}, true, false, 2},
		{"conflict then claimed by the other", []string{cancelled("TransactionConflict"), cancelled("ConditionalCheckFailed")}, false, false, 2},
		{"claimed", []string{cancelled("ConditionalCheckFailed")}, false, false, 1},
		{"conflict every time", slices.Repeat([]string{cancelled("TransactionConflict")}, 5), false, true, 5},
		{"conflict on the job item", []string{cancelledJob("TransactionConflict"), ""}, true, false, 2},
		{"other cancellation", []string{cancelled("ValidationError")}, false, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			var (
				calls  atomic.Int32
				tokens sync.Map
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if got := r.Header.Get("X-Amz-Target"); got != "DynamoDB_20120810.TransactWriteItems" {
					t.Errorf("call: got %q, want DynamoDB_20120810.TransactWriteItems", got)
				}
				var body struct{ ClientRequestToken string }
				_ = json.NewDecoder(r.Body).Decode(&body)
				tokens.Store(body.ClientRequestToken, true)
				n := int(calls.Add(1))
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				if n > len(tt.answers) || tt.answers[n-1] == "" {
					_, _ = io.WriteString(w, `{}`)
					return
				}
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tt.answers[n-1])
			}))
			defer srv.Close()
			s := dynamo.New(dynamo.NewClient(awsenv.Config(), srv.URL), "sdesk")
			j := sdesk.Job{ID: "gitlab:k", Kind: sdesk.JobGitLabEvent, Payload: []byte(`{}`), Status: sdesk.JobPending, CreatedAt: time.Now(), UpdatedAt: time.Now()}
			won, err := s.ClaimJob(t.Context(), "event:k", time.Hour, j)
			if won != tt.wantWon || (err != nil) != tt.wantErr {
				t.Errorf("ClaimJob: got %v, %v, want %v and error %v", won, err, tt.wantWon, tt.wantErr)
			}
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("TransactWriteItems calls: got %d, want %d", got, tt.wantCalls)
			}
			distinct := 0
			tokens.Range(func(k, _ any) bool {
				if k != "" {
					distinct++
				}
				return true
			})
			if distinct != tt.wantCalls {
				t.Errorf("distinct ClientRequestTokens: got %d, want one per call (%d)", distinct, tt.wantCalls)
			}
		})
	}
}
