package dynamo_test

import (
	"encoding/json"
	"errors"
	"fmt"
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

func TestStore(t *testing.T) {
	dynamotest.Endpoint(t)
	sdesktest.TestStore(t, func(t *testing.T) sdesk.Store {
		client, table := dynamotest.NewTable(t)
		return dynamo.New(client, table)
	})
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

func scanCount(t *testing.T, client *dynamodb.Client, table string) int {
	t.Helper()
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("Scan: got error %v, want nil", err)
	}
	return len(out.Items)
}

// TestItemLayout checks the documented item keys with raw reads, so the
// layout in the package documentation stays true.
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

	for _, tt := range []struct{ pk, sk string }{
		{"ISSUE#42", "MAPPING"},
		{"THREAD#200", "MAPPING"},
		{"REPORTER#300", "ISSUE#0000000042"},
		{"CLAIM#evt", "CLAIM"},
		{"JOB#j1", "JOB"},
		{"ISSUE#42", "NOTE#000000000007"},
	} {
		if item := getItem(t, client, table, tt.pk, tt.sk); item == nil {
			t.Errorf("item %s/%s: got none, want one", tt.pk, tt.sk)
		}
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

// TestPutMappingIsOneTransaction checks with raw reads that a conflicting
// PutMapping leaves no item behind, not even the unconditional reporter
// item.
func TestPutMappingIsOneTransaction(t *testing.T) {
	client, table := dynamotest.NewTable(t)
	s := dynamo.New(client, table)
	ctx := t.Context()
	first := sdesk.Mapping{IssueIID: 1, ThreadID: "201", ReporterID: "301", Title: "first", CreatedAt: time.Now()}
	if err := s.PutMapping(ctx, first); err != nil {
		t.Fatalf("PutMapping: got error %v, want nil", err)
	}
	before := scanCount(t, client, table)
	if before != 3 {
		t.Errorf("items after one mapping: got %d, want 3", before)
	}

	tests := []struct {
		name string
		m    sdesk.Mapping
		msg  string
	}{
		{"issue taken", sdesk.Mapping{IssueIID: 1, ThreadID: "209", ReporterID: "309"}, `issue 1 is mapped to thread "201"`},
		{"thread taken", sdesk.Mapping{IssueIID: 9, ThreadID: "201", ReporterID: "309"}, `thread "201" is mapped to issue 1`},
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
			if item := getItem(t, client, table, "REPORTER#309", fmt.Sprintf("ISSUE#%010d", tt.m.IssueIID)); item != nil {
				t.Errorf("reporter item after conflict: got %v, want none", item)
			}
			if got := scanCount(t, client, table); got != before {
				t.Errorf("items after conflict: got %d, want %d", got, before)
			}
		})
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
